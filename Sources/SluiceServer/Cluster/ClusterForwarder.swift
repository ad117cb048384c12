import Synchronization
import SluiceCluster
import SluiceModel
import SluicePipeline

/// The ingest edge's way into the cluster: taken records go to the stream, one message per
/// partition, and the request is answered once JetStream has acknowledged every one.
final class ClusterForwarder: IngestForwarder {
    private let publisher = Mutex<ClusterPublisher?>(nil)
    /// Records the stream has acknowledged through this node.
    let forwarded = Atomic<UInt64>(0)

    /// Set once the node has its connection and the stream.
    func attach(_ publisher: ClusterPublisher?) {
        self.publisher.withLock { $0 = publisher }
    }

    func forward(_ records: [Record], batchID: String?) async throws(IngestRefusal) {
        guard let publisher = publisher.withLock({ $0 }) else {
            throw .clusterUnavailable("this node is not connected to the NATS server yet")
        }
        do {
            _ = try await publisher.publish(records, id: batchID ?? Self.generatedID())
        } catch {
            throw .clusterUnavailable("\(error)")
        }
        forwarded.add(UInt64(records.count), ordering: .relaxed)
    }

    /// A batch id for a request without an `Idempotency-Key`: 128 random bits.
    static func generatedID() -> String {
        var random = SystemRandomNumberGenerator()
        let high = String(random.next(), radix: 16), low = String(random.next(), radix: 16)
        return "g" + String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }
}
