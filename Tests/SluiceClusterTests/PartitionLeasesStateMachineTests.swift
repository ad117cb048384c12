import Testing
import SluiceModel
@testable import SluiceCluster
import SluiceNATS

/// The lease state machine, alone and in a simulated cluster whose lease table behaves as a
/// JetStream KV bucket with a TTL does: a create fails on a live key, an update on a stale
/// revision fails, and an entry expires a TTL after its last write.
@Suite("Partition leases: state machine")
struct PartitionLeasesStateMachineTests {
    typealias Machine = PartitionLeases.StateMachine
    typealias Lease = PartitionLeases.Lease
    static let ttl = Duration.seconds(5)
    static let start = ContinuousClock.now

    @Test("a node alone claims every partition; with two others it claims its share, its first choices no one else's")
    func shares() {
        var alone = Machine(node: "n1", partitions: 16, ttl: Self.ttl)
        #expect(Set(alone.observed(table: [:], nodes: ["n1"], now: Self.start)) == Set((0..<16).map { .claim($0) }))

        let nodes: Set<String> = ["n1", "n2", "n3"]
        var claims: [String: [Int]] = [:]
        for node in nodes {
            var machine = Machine(node: node, partitions: 16, ttl: Self.ttl)
            claims[node] = machine.observed(table: [:], nodes: nodes, now: Self.start).compactMap {
                if case .claim(let p) = $0 { return p } else { return nil }
            }
            #expect(claims[node]!.count == (node == "n1" ? 6 : 5), "16 over three nodes: 6, 5, 5, the extra one to the first by name")
        }
        // Rendezvous ranking: a partition is the first choice of the node with the highest
        // hash of (node, partition), and each node reaches for its first choices first, so
        // nodes reaching at once mostly reach for different partitions.
        for node in nodes {
            let first = (0..<16).filter { p in nodes.max { StableHash.hash("\($0)/\(p)") < StableHash.hash("\($1)/\(p)") } == node }
            let share = claims[node]!.count
            #expect(Array(claims[node]!.prefix(first.count)) == Array(first.prefix(share)), "\(node): \(claims[node]!) against first choices \(first)")
        }
        #expect(Set(claims.values.joined()).count >= 12, "\(claims)")
    }

    @Test("what is held is renewed on its revision; what the table gives to another, or no write renewed within the TTL, is dropped")
    func renewAndLose() {
        var machine = Machine(node: "n1", partitions: 4, ttl: Self.ttl)
        _ = machine.observed(table: [:], nodes: ["n1"], now: Self.start)
        for p in 0..<4 { machine.wrote(p, revision: UInt64(p + 1), sent: Self.start) }
        var table = Dictionary(uniqueKeysWithValues: (0..<4).map { ($0, Lease(owner: "n1", revision: UInt64($0 + 1))) })
        table[2] = Lease(owner: "n2", revision: 9)
        let actions = machine.observed(table: table, nodes: ["n1"], now: Self.start + .seconds(1))
        #expect(machine.owned == [0, 1, 3])
        #expect(Set(actions) == [.renew(0, revision: 1), .renew(1, revision: 2), .renew(3, revision: 4)])
        machine.unreachable(now: Self.start + .seconds(4))
        #expect(machine.owned == [0, 1, 3], "within the TTL")
        machine.unreachable(now: Self.start + Self.ttl)
        #expect(machine.owned.isEmpty, "the server has let them go by now")
    }

    @Test("a node over its share gives back the highest partitions, but only when another node is there to take them")
    func surplus() {
        var machine = Machine(node: "n1", partitions: 4, ttl: Self.ttl)
        for p in 0..<4 { machine.wrote(p, revision: UInt64(p + 1), sent: Self.start) }
        let table = Dictionary(uniqueKeysWithValues: (0..<4).map { ($0, Lease(owner: "n1", revision: UInt64($0 + 1))) })
        #expect(Set(machine.observed(table: table, nodes: ["n1"], now: Self.start)) == Set((0..<4).map { .renew($0, revision: UInt64($0 + 1)) }))
        #expect(Set(machine.observed(table: table, nodes: ["n1", "n2"], now: Self.start))
                == [.renew(0, revision: 1), .renew(1, revision: 2), .release(2, revision: 3), .release(3, revision: 4)])
    }

    /// A KV bucket with a TTL, as JetStream keeps one.
    struct SimulatedBucket {
        var entries: [Int: (owner: String, revision: UInt64, written: ContinuousClock.Instant)] = [:]
        var revision: UInt64 = 0

        mutating func expire(_ now: ContinuousClock.Instant, ttl: Duration) {
            entries = entries.filter { now - $0.value.written < ttl }
        }

        mutating func write(_ p: Int, _ owner: String, expected: UInt64, at now: ContinuousClock.Instant) -> UInt64? {
            guard (entries[p]?.revision ?? 0) == expected else { return nil }
            revision += 1
            entries[p] = (owner, revision, now)
            return revision
        }

        var table: [Int: Lease] { entries.mapValues { Lease(owner: $0.owner, revision: $0.revision) } }
    }

    @Test("in a simulated cluster no partition ever has two holders; nodes that die or join are balanced within a few TTLs",
          arguments: [(16, 3), (7, 2), (64, 5), (3, 4)])
    func simulation(partitions: Int, nodeCount: Int) {
        let ttl = Self.ttl
        var bucket = SimulatedBucket()
        var machines = (0..<nodeCount).map { Machine(node: "n\($0)", partitions: partitions, ttl: ttl) }
        var alive = Set(machines.indices)
        var heartbeats: [Int: ContinuousClock.Instant] = [:]
        var now = Self.start

        func round() {
            for i in alive.sorted() {
                now += .milliseconds(137)
                bucket.expire(now, ttl: ttl)
                heartbeats[i] = now
                let live = Set(heartbeats.filter { now - $0.value < ttl }.keys.map { "n\($0)" })
                let sent = now
                for action in machines[i].observed(table: bucket.table, nodes: live, now: now) {
                    switch action {
                    case .claim(let p):
                        if let r = bucket.write(p, "n\(i)", expected: 0, at: now) { machines[i].wrote(p, revision: r, sent: sent) }
                    case .renew(let p, let r):
                        if let r = bucket.write(p, "n\(i)", expected: r, at: now) { machines[i].wrote(p, revision: r, sent: sent) } else { machines[i].dropped(p) }
                    case .release(let p, let r):
                        machines[i].dropped(p)
                        if bucket.entries[p]?.revision == r { bucket.entries[p] = nil }
                    }
                }
            }
            // The invariant, after every round: no partition held by two nodes.
            var holders: [Int: Int] = [:]
            for i in machines.indices {
                machines[i].unreachable(now: now)
                for p in machines[i].owned { holders[p, default: 0] += 1 }
            }
            #expect(holders.values.allSatisfy { $0 == 1 }, "a partition with two holders at \(now - Self.start)")
        }

        func balanced(_ nodes: Set<Int>) -> Bool {
            let counts = nodes.map { machines[$0].owned.count }
            // As even as the partitions go: no node more than one ahead of another.
            return counts.reduce(0, +) == partitions && counts.max()! - counts.min()! <= 1
        }

        for _ in 0..<40 { round() }
        #expect(balanced(alive), "\(alive.map { machines[$0].owned })")
        // One dies without a word: its leases expire and the rest take them.
        alive.remove(0)
        for _ in 0..<80 { round() }
        #expect(balanced(alive), "\(alive.map { machines[$0].owned })")
        // It comes back (a new process): the others give up part of theirs.
        machines[0] = Machine(node: "n0", partitions: partitions, ttl: ttl)
        alive.insert(0)
        for _ in 0..<80 { round() }
        #expect(balanced(alive), "\(alive.map { machines[$0].owned })")
    }
}
