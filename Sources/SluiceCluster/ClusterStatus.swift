import Foundation
import SluiceNATS

/// What `sluice cluster status` shows, read from NATS alone (no node need answer): the live
/// nodes' heartbeats, which carry each partition's progress, and the lease table.
public struct ClusterStatus: Codable, Sendable, Hashable {
    /// One node's heartbeat.
    public struct Node: Codable, Sendable, Hashable {
        public var node: String
        /// Where its HTTP API listens, when it has one.
        public var http: String?
        /// The partitions whose pipelines run on it.
        public var partitions: [Partition]

        public init(node: String, http: String?, partitions: [Partition]) {
            self.node = node
            self.http = http
            self.partitions = partitions
        }
    }

    public struct Partition: Codable, Sendable, Hashable {
        public var partition: Int
        /// The node holding its lease; `nil` when none does.
        public var owner: String?
        /// Stream sequence of the last message its owner took.
        public var position: UInt64
        /// Messages stored for it that its owner has not taken yet.
        public var lagMessages: UInt64
        /// How long ago the oldest of those was stored.
        public var lagSeconds: Double
        /// Records taken by its current pipeline.
        public var records: UInt64
        /// When its open windows were last checkpointed (RFC 3339), if ever.
        public var checkpoint: String?
        /// Whether its owner runs it and has taken every message stored for it, as the
        /// stream's record of the owner's consumer says.
        public var caughtUp = false

        public init(partition: Int, owner: String?, position: UInt64, lagMessages: UInt64, lagSeconds: Double, records: UInt64, checkpoint: String?) {
            self.partition = partition
            self.owner = owner
            self.position = position
            self.lagMessages = lagMessages
            self.lagSeconds = lagSeconds
            self.records = records
            self.checkpoint = checkpoint
        }

        enum CodingKeys: String, CodingKey {
            case partition, owner, position, records, checkpoint
            case lagMessages = "lag_messages", lagSeconds = "lag_seconds", caughtUp = "caught_up"
        }
    }

    public var stream: String
    /// The stream's last sequence.
    public var lastSequence: UInt64
    public var nodes: [Node]
    /// Every partition, in order: its lease holder and, from the holder's heartbeat, its progress.
    public var partitions: [Partition]

    /// Whether every partition has an owner that has taken everything stored for it.
    public var isCaughtUp: Bool { partitions.allSatisfy { $0.owner != nil && $0.caughtUp } }

    /// Reads the status of the cluster on `stream` with `partitions` partitions.
    public static func read(_ jetStream: JetStream, stream: String, partitions: Int, leaseTTL: Duration) async throws -> ClusterStatus {
        let leases = try await PartitionLeases.open(jetStream, .init(node: "status", partitions: partitions, ttl: leaseTTL, prefix: stream))
        let table = try await leases.table()
        let decoder = JSONDecoder()
        var nodes: [Node] = []
        for (name, value) in try await leases.heartbeats() {
            nodes.append((try? decoder.decode(Node.self, from: Data(value))) ?? Node(node: name, http: nil, partitions: []))
        }
        nodes.sort { $0.node < $1.node }
        let last = try await jetStream.streamState(stream).lastSequence
        var rows: [Partition] = []
        for p in 0..<partitions {
            let owner = table[p]?.owner
            let reported = nodes.first { $0.node == owner }?.partitions.first { $0.partition == p }
            var row = reported ?? Partition(partition: p, owner: owner, position: 0, lagMessages: 0, lagSeconds: 0, records: 0, checkpoint: nil)
            row.owner = owner
            row.caughtUp = false
            // The lag in messages is the server's: what the owner's consumer has not had acknowledged.
            if let owner, let consumer = try? await jetStream.consumerState(stream: stream, consumer: "\(owner)_p\(p)") {
                row.lagMessages = consumer.pending + consumer.acknowledgementsPending
                row.caughtUp = reported != nil && row.lagMessages == 0
            }
            rows.append(row)
        }
        return ClusterStatus(stream: stream, lastSequence: last, nodes: nodes, partitions: rows)
    }
}
