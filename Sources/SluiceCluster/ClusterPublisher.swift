import SluiceModel
import SluiceNATS

/// The "receive anywhere" half of the cluster (design §12): accepted records go to the JetStream
/// stream, one message per partition (more when a partition's share is over the server's
/// `max_payload`), and the batch counts as received only when every message is acknowledged.
///
/// Each message's `Nats-Msg-Id` is `<batch id>/<partition>/<part>`, and the same records
/// always split the same way: a retried batch with the same id (an HTTP `Idempotency-Key`) is
/// stored once, whatever part of it reached the stream before.
public struct ClusterPublisher: Sendable {
    public let jetStream: JetStream
    public let partitioning: Partitioning
    public let stream: String
    /// The largest payload of one message.
    public let maximumPayload: Int

    /// One stored message of a batch.
    public struct Stored: Sendable, Hashable {
        public var partition: Int
        public var sequence: UInt64
        /// Whether the stream already held it (a retry).
        public var duplicate: Bool
    }

    public init(jetStream: JetStream, stream: String, partitioning: Partitioning, maximumPayload: Int) {
        self.jetStream = jetStream
        self.stream = stream
        self.partitioning = partitioning
        self.maximumPayload = maximumPayload
    }

    /// Makes sure the stream exists (subjects `<prefix>.*`, on disk, deduplicating within
    /// `duplicateWindow`), and sizes messages to the server's `max_payload`.
    public static func open(_ jetStream: JetStream, stream: String, partitioning: Partitioning, duplicateWindow: Duration) async throws(NATSError) -> ClusterPublisher {
        var configuration = JetStream.StreamConfiguration(name: stream, subjects: ["\(partitioning.subjectPrefix).*"])
        configuration.duplicateWindow = duplicateWindow
        try await jetStream.ensureStream(configuration)
        // Headers (the message id) travel in the same budget.
        let limit = (jetStream.client.serverInfo?.maximumPayload ?? 1 << 20) - 512
        return ClusterPublisher(jetStream: jetStream, stream: stream, partitioning: partitioning, maximumPayload: limit)
    }

    /// Stores `records` under the batch id `id`; returns once every message is acknowledged.
    /// Partitions are published side by side, the parts of one partition in order.
    public func publish(_ records: [Record], id: String) async throws -> [Stored] {
        let messages = try split(records)
        return try await withThrowingTaskGroup(of: [Stored].self) { group in
            for (partition, parts) in messages {
                group.addTask {
                    var stored: [Stored] = []
                    for (i, payload) in parts.enumerated() {
                        let ack = try await jetStream.publish(partitioning.subject(partition), payload: payload, messageID: "\(id)/\(partition)/\(i)")
                        guard ack.stream == stream else {
                            throw ClusterError("\(partitioning.subject(partition)) is stored in stream \(ack.stream), not \(stream): another stream claims the cluster's subjects")
                        }
                        stored.append(Stored(partition: partition, sequence: ack.sequence, duplicate: ack.duplicate))
                    }
                    return stored
                }
            }
            var all: [Stored] = []
            for try await stored in group { all += stored }
            return all.sorted { ($0.partition, $0.sequence) < ($1.partition, $1.sequence) }
        }
    }

    /// The payloads of each partition, records in their order, each at most `maximumPayload`.
    func split(_ records: [Record]) throws(ClusterError) -> [(Int, [[UInt8]])] {
        var order: [Int] = []
        var lines: [Int: [[UInt8]]] = [:]
        for record in records {
            let partition = partitioning.partition(tenant: record.tenantID)
            if lines[partition] == nil { order.append(partition) }
            let line = ClusterPayload.encode(CollectionOfOne(record))
            guard line.count <= maximumPayload else {
                throw ClusterError("a record of \(line.count) bytes is over the NATS server's max_payload (\(maximumPayload + 512)); raise max_payload in its configuration")
            }
            lines[partition, default: []].append(line)
        }
        return order.map { partition in
            var parts: [[UInt8]] = [[]]
            for line in lines[partition]! {
                if parts[parts.count - 1].count + line.count > maximumPayload { parts.append([]) }
                parts[parts.count - 1] += line
            }
            return (partition, parts)
        }
    }
}
