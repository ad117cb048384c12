import Testing
import SluiceTesting
@testable import SluiceCluster
import SluiceNATS

/// Partition leases on a real `nats-server -js`: three nodes share the partitions, and when one
/// dies without a word the other two take its share once its leases expire.
@Suite("Partition leases against nats-server", .timeLimit(.minutes(10)))
struct PartitionLeasesTests {
    final class Node: Sendable {
        let client: NATSClient
        let leases: PartitionLeases
        let task: Task<Void, Never>

        init(_ name: String, server: NATSServerPeer, partitions: Int) async throws {
            client = try await NATSClient.connect(server.client(name))
            leases = try await PartitionLeases.open(JetStream(client: client), PartitionLeases.Configuration(node: name, partitions: partitions, ttl: .seconds(10)))
            task = Task { [leases] in await leases.run() }
        }
    }

    /// Every round of any node, as one sequence. Each node's `ownership` has one reader, this
    /// one, for the whole test.
    static func rounds(_ nodes: [Node]) -> (AsyncStream<Void>, [Task<Void, Never>]) {
        let (rounds, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let watchers = nodes.map { node in Task { for await _ in node.leases.ownership { continuation.yield() } } }
        return (rounds, watchers)
    }

    /// Waits, round by round, until what `nodes` hold is shared out as `done` says and the
    /// bucket agrees with each of them.
    static func until(_ rounds: inout AsyncStream<Void>.Iterator, _ nodes: [Node], _ done: ([[Int]]) -> Bool) async throws {
        while true {
            let owned = nodes.map(\.leases.owned)
            if done(owned) {
                let table = try await nodes[0].leases.table()
                let agrees = nodes.indices.allSatisfy { i in
                    Set(table.filter { $0.value.owner == nodes[i].leases.configuration.node }.keys) == Set(owned[i])
                }
                if agrees, table.count == owned.joined().count { return }
            }
            guard await rounds.next() != nil else { return }
        }
    }

    static func shared(_ owned: [[Int]], _ partitions: Int) -> Bool {
        let all = owned.flatMap { $0 }
        return all.count == partitions && Set(all).count == partitions && owned.allSatisfy { $0.count <= (partitions + owned.count - 1) / owned.count }
    }

    @Test("three nodes hold every partition once; after one is killed, the two left hold them all, half each")
    func takeover() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let partitions = 16
        let nodes = [try await Node("n1", server: server, partitions: partitions),
                     try await Node("n2", server: server, partitions: partitions),
                     try await Node("n3", server: server, partitions: partitions)]
        let (stream, watchers) = Self.rounds(nodes)
        defer { for watcher in watchers { watcher.cancel() } }
        var rounds = stream.makeAsyncIterator()
        try await Self.until(&rounds, nodes) { Self.shared($0, partitions) }
        #expect(Self.shared(nodes.map(\.leases.owned), partitions))

        // n3 dies: its connection drops and it never renews or gives anything back.
        await nodes[2].client.close()
        nodes[2].task.cancel()
        await nodes[2].task.value
        let survivors = Array(nodes.prefix(2))
        try await Self.until(&rounds, survivors) { Self.shared($0, partitions) && $0.allSatisfy { $0.count == 8 } }
        #expect(Set(try await nodes[0].leases.table().values.map(\.owner)) == ["n1", "n2"])

        for node in survivors {
            node.task.cancel()
            await node.task.value
            await node.client.close()
        }
    }
}
