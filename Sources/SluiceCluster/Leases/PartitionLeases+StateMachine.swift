import SluiceModel
import SluiceNATS

extension PartitionLeases {
    /// One partition's entry in the lease table: who holds it, at which revision.
    public struct Lease: Sendable, Hashable {
        public var owner: String
        public var revision: UInt64

        public init(owner: String, revision: UInt64) {
            self.owner = owner
            self.revision = revision
        }
    }

    /// What a node does with the lease table it has just read. Pure: the table, the live
    /// nodes and the time come in; claims, renewals and releases go out.
    ///
    /// Each node aims at a fair share, `ceil(partitions / live nodes)`. It renews what it
    /// holds, gives back what is over its share once another node is there to take it, and
    /// claims free partitions up to its share. Among free partitions it prefers those whose
    /// rendezvous hash ranks it first among the live nodes, so that nodes reaching for free
    /// partitions at the same moment mostly reach for different ones. A partition counts as
    /// held only while its renewals succeed: one not renewed within the TTL is dropped before
    /// the server can give it to anyone else.
    public struct StateMachine: Sendable {
        public let node: String
        public let partitions: Int
        public let ttl: Duration
        /// Held partitions: the revision of the last write, and when that write succeeded.
        public private(set) var held: [Int: (revision: UInt64, at: ContinuousClock.Instant)] = [:]

        public enum Action: Sendable, Hashable {
            /// Write the partition's lease if it is free.
            case claim(Int)
            /// Rewrite it on the revision held.
            case renew(Int, revision: UInt64)
            /// Give it back: delete it on the revision held.
            case release(Int, revision: UInt64)
        }

        public init(node: String, partitions: Int, ttl: Duration) {
            precondition(partitions > 0, "at least one partition")
            self.node = node
            self.partitions = partitions
            self.ttl = ttl
        }

        /// The partitions held, in order.
        public var owned: [Int] { held.keys.sorted() }

        /// The table as read at `now`, and the nodes alive then (this one among them or not):
        /// what to write.
        public mutating func observed(table: [Int: Lease], nodes: Set<String>, now: ContinuousClock.Instant) -> [Action] {
            // Lost: another holder in the table, or no successful write within the TTL.
            for (partition, lease) in held where table[partition]?.owner != node || now - lease.at >= ttl {
                held[partition] = nil
            }
            var live = nodes
            live.insert(node)
            let share = Self.share(of: node, partitions: partitions, live: live)
            var actions: [Action] = []
            let mine = owned
            // Over the share: the highest partitions go back, but only to a node that can take them.
            let surplus = live.count > 1 ? max(0, mine.count - share) : 0
            for partition in mine.suffix(surplus) {
                actions.append(.release(partition, revision: held[partition]!.revision))
            }
            for partition in mine.dropLast(surplus) {
                actions.append(.renew(partition, revision: held[partition]!.revision))
            }
            let wanted = share - (mine.count - surplus)
            guard wanted > 0 else { return actions }
            let free = (0..<partitions).filter { table[$0] == nil }
            let ranked = free.sorted { rank($0, live) < rank($1, live) || rank($0, live) == rank($1, live) && $0 < $1 }
            actions += ranked.prefix(wanted).map { .claim($0) }
            return actions
        }

        /// What `node` holds when the partitions are spread over `live` as evenly as they go:
        /// `partitions / live.count` each, and one more for the first `partitions % live.count`
        /// nodes by name. Every node computes the same targets from the same live set, and
        /// they add up to every partition (16 over three nodes: 6, 5, 5).
        public static func share(of node: String, partitions: Int, live: Set<String>) -> Int {
            let index = live.sorted().firstIndex(of: node) ?? live.count
            return partitions / live.count + (index < partitions % live.count ? 1 : 0)
        }

        /// This node's place among the live nodes for `partition` (0: first choice).
        private func rank(_ partition: Int, _ live: Set<String>) -> Int {
            let score = { (node: String) in StableHash.hash("\(node)/\(partition)") }
            let mine = score(node)
            return live.filter { score($0) > mine }.count
        }

        /// The table could not be read or written at `now`: leases whose last write is older
        /// than the TTL are dropped, as the server will have let them go.
        public mutating func unreachable(now: ContinuousClock.Instant) {
            for (partition, lease) in held where now - lease.at >= ttl { held[partition] = nil }
        }

        /// A claim or renewal was written at `revision`. `sent` is when the write left, which
        /// is no later than the server's stamp on it: the lease is counted from then.
        public mutating func wrote(_ partition: Int, revision: UInt64, sent: ContinuousClock.Instant) {
            held[partition] = (revision, sent)
        }

        /// A claim, renewal or release failed, or a release succeeded: not held any more.
        public mutating func dropped(_ partition: Int) {
            held[partition] = nil
        }
    }
}
