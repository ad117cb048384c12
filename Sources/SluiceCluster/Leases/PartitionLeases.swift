import Synchronization
import SluiceNATS

/// Partition ownership through leases in a JetStream KV bucket (design §12).
///
/// Every node writes a heartbeat to `<prefix>_nodes` and holds its partitions as keys `p<N>`
/// in `<prefix>_leases`; both buckets expire entries after the lease TTL. Every third of the
/// TTL the node reads both, and the state machine says what to claim, renew and give back. A
/// node that dies stops renewing, its entries expire, and the others claim its partitions.
public final class PartitionLeases: Sendable {
    /// Which node this is and what it shares.
    public struct Configuration: Sendable {
        public var node: String
        public var partitions: Int
        public var ttl: Duration
        /// The buckets are `<prefix>_nodes` and `<prefix>_leases`.
        public var prefix: String

        public init(node: String, partitions: Int, ttl: Duration = .seconds(5), prefix: String = "SLUICE") {
            self.node = node
            self.partitions = partitions
            self.ttl = ttl
            self.prefix = prefix
        }
    }

    public let configuration: Configuration
    let nodes: KeyValue
    let leases: KeyValue
    let machine: Mutex<StateMachine>
    /// What the heartbeat says about this node (`sluice cluster status` shows it).
    let heartbeat: @Sendable () -> [UInt8]
    /// The lease table and the live nodes as the last round read them.
    private let seen = Mutex<(table: [Int: Lease], nodes: [String: [UInt8]])>(([:], [:]))
    /// The partitions held, after every round (changed or not) and after the final release.
    public let ownership: AsyncStream<[Int]>
    let ownershipContinuation: AsyncStream<[Int]>.Continuation

    init(configuration: Configuration, nodes: KeyValue, leases: KeyValue, heartbeat: @escaping @Sendable () -> [UInt8]) {
        self.configuration = configuration
        self.heartbeat = heartbeat
        self.nodes = nodes
        self.leases = leases
        self.machine = Mutex(StateMachine(node: configuration.node, partitions: configuration.partitions, ttl: configuration.ttl))
        // A reader that falls behind needs only the latest.
        (ownership, ownershipContinuation) = AsyncStream.makeStream(of: [Int].self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Opens (creating when needed) the two buckets. `heartbeat` is what the node writes to
    /// its entry in `<prefix>_nodes` every round (its name when not given).
    public static func open(_ jetStream: JetStream, _ configuration: Configuration,
                            heartbeat: (@Sendable () -> [UInt8])? = nil) async throws(NATSError) -> PartitionLeases {
        let nodes = try await KeyValue.open(jetStream, bucket: "\(configuration.prefix)_nodes", ttl: configuration.ttl)
        let leases = try await KeyValue.open(jetStream, bucket: "\(configuration.prefix)_leases", ttl: configuration.ttl)
        let node = configuration.node
        return PartitionLeases(configuration: configuration, nodes: nodes, leases: leases, heartbeat: heartbeat ?? { Array(node.utf8) })
    }

    /// The partitions this node holds now.
    public var owned: [Int] { machine.withLock { $0.owned } }

    /// Rounds every third of the TTL until cancelled; then gives back every partition held
    /// and its heartbeat, so that the others need not wait for the TTL.
    public func run() async {
        while !Task.isCancelled {
            await round()
            try? await Task.sleep(for: configuration.ttl / 3)
        }
        await releaseAll()
        ownershipContinuation.finish()
    }

    /// One round: heartbeat, read the table, write what the state machine says.
    public func round() async {
        let started = ContinuousClock.now
        do {
            _ = try await nodes.put(configuration.node, heartbeat())
            let entries = try await nodes.entries()
            let live = Set(entries.keys)
            let table = try await self.table()
            seen.withLock { $0 = (table, entries.mapValues(\.value)) }
            let actions = machine.withLock { $0.observed(table: table, nodes: live, now: started) }
            // Side by side: a slow round is what lets a lease lapse.
            await withTaskGroup(of: Void.self) { group in
                for action in actions { group.addTask { await self.perform(action) } }
            }
        } catch {
            machine.withLock { $0.unreachable(now: ContinuousClock.now) }
        }
        publish()
    }

    /// The lease table as the last round read it (who owned what then).
    public var lastTable: [Int: Lease] { seen.withLock { $0.table } }

    /// The live nodes' heartbeats as the last round read them, by node.
    public var lastHeartbeats: [String: [UInt8]] { seen.withLock { $0.nodes } }

    /// The live nodes' heartbeats, read now.
    public func heartbeats() async throws(NATSError) -> [String: [UInt8]] {
        try await nodes.entries().mapValues(\.value)
    }

    /// Who holds which partition now, as the bucket says.
    public func table() async throws(NATSError) -> [Int: Lease] {
        var table: [Int: Lease] = [:]
        for (key, entry) in try await leases.entries() {
            guard key.hasPrefix("p"), let partition = Int(key.dropFirst()), (0..<configuration.partitions).contains(partition) else { continue }
            table[partition] = Lease(owner: String(decoding: entry.value, as: UTF8.self), revision: entry.revision)
        }
        return table
    }

    private func perform(_ action: StateMachine.Action) async {
        let owner = Array(configuration.node.utf8)
        let sent = ContinuousClock.now
        switch action {
        case .claim(let partition):
            if let revision = try? await leases.create("p\(partition)", owner) {
                machine.withLock { $0.wrote(partition, revision: revision, sent: sent) }
            }
        case .renew(let partition, let revision):
            if let revision = try? await leases.update("p\(partition)", owner, revision: revision) {
                machine.withLock { $0.wrote(partition, revision: revision, sent: sent) }
            } else {
                machine.withLock { $0.dropped(partition) }
            }
        case .release(let partition, let revision):
            // Dropped first: whatever the delete's fate, this node has stopped using it.
            machine.withLock { $0.dropped(partition) }
            try? await leases.delete("p\(partition)", revision: revision)
        }
    }

    private func releaseAll() async {
        let held = machine.withLock { machine in
            defer { for partition in machine.owned { machine.dropped(partition) } }
            return machine.held.map { ($0.key, $0.value.revision) }
        }
        publish()
        for (partition, revision) in held { try? await leases.delete("p\(partition)", revision: revision) }
        try? await nodes.delete(configuration.node)
    }

    private func publish() {
        ownershipContinuation.yield(owned)
    }
}
