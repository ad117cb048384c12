import Foundation
import Testing
import SluiceModel
import SluiceNATS
import SluiceTesting
@testable import SluiceCluster

/// Publishing accepted batches to a real `nats-server -js`, read back by a pull consumer per
/// partition and, independently, by nats-py.
@Suite("Cluster publisher against nats-server", .serialized, .timeLimit(.minutes(10)))
struct ClusterPublisherTests {
    static let partitioning = Partitioning(partitions: 8)

    /// Records of `tenants` tenants, every kind, in an order that interleaves them.
    static func records(_ count: Int, tenants: Int, seed: Int = 0) -> [Record] {
        let base = Timestamp(microseconds: 1_795_000_000_000_000)
        return (0..<count).map { i in
            let tenant = "tenant-\((i * 7 + seed) % tenants)"
            let t = Timestamp(microseconds: base.microseconds + Int64(i) * 1_000_000)
            switch i % 3 {
            case 0: return .metric(MetricRecord(timestamp: t, tenantID: tenant, labels: ["route": "/r\(i % 5)", "zone": "ü-\(i % 2)"], name: "latency \"ms\"", value: Double(i) / 7))
            case 1: return .visit(VisitRecord(timestamp: t, tenantID: tenant, visitorID: "v\(i % 11)", path: "/p/\(i)"))
            default: return .metric(MetricRecord(timestamp: t, tenantID: tenant, name: "queue_depth", value: Double(i % 13)))
            }
        }
    }

    /// Everything the stream holds, partition by partition, through a consumer per partition.
    static func readBack(_ js: JetStream, stream: String) async throws -> [Int: [Record]] {
        var out: [Int: [Record]] = [:]
        for partition in 0..<partitioning.partitions {
            try await js.ensureConsumer(stream: stream, JetStream.ConsumerConfiguration(durableName: "check-\(partition)", filterSubject: partitioning.subject(partition)))
            while true {
                let batch = try await js.fetch(stream: stream, consumer: "check-\(partition)", batch: 100, expires: .milliseconds(300))
                if batch.isEmpty { break }
                for message in batch {
                    out[partition, default: []] += try ClusterPayload.decode(message.message.payload)
                    try await message.acknowledge()
                }
            }
        }
        return out
    }

    @Test("a batch lands once, each tenant whole in its partition in order; a retry with the same id is stored once, another id again")
    func publishOnce() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let client = try await NATSClient.connect(server.client())
        let js = JetStream(client: client)
        let publisher = try await ClusterPublisher.open(js, stream: "SLUICE", partitioning: Self.partitioning, duplicateWindow: .seconds(60))
        let records = Self.records(600, tenants: 23)

        let first = try await publisher.publish(records, id: "batch-1")
        let fresh = first.filter { !$0.duplicate }.count
        #expect(fresh == first.count)
        let retry = try await publisher.publish(records, id: "batch-1")
        let duplicates = retry.filter(\.duplicate).count
        #expect(duplicates == first.count && retry.map(\.sequence) == first.map(\.sequence), "a retry is answered with the first copy's sequences")
        #expect(try await js.streamState("SLUICE").messages == UInt64(first.count))

        let stored = try await Self.readBack(js, stream: "SLUICE")
        #expect(stored.count > 4, "23 tenants spread over most of 8 partitions")
        for (partition, got) in stored {
            // Each partition holds exactly its tenants' records, in the order they came.
            #expect(got == records.filter { Self.partitioning.partition(tenant: $0.tenantID) == partition }, "partition \(partition)")
        }
        #expect(stored.values.map(\.count).reduce(0, +) == records.count)

        _ = try await publisher.publish(records, id: "batch-2")
        #expect(try await js.streamState("SLUICE").messages == UInt64(2 * first.count))
        await client.close()
    }

    @Test("a partition's share over max_payload goes in several messages, each within it, and a retry still dedupes")
    func largeBatches() async throws {
        let server = try await NATSServerPeer.start(settings: ["max_payload: 8192"])
        defer { server.kill() }
        let client = try await NATSClient.connect(server.client())
        #expect(client.serverInfo?.maximumPayload == 8_192)
        let js = JetStream(client: client)
        let publisher = try await ClusterPublisher.open(js, stream: "SLUICE", partitioning: Self.partitioning, duplicateWindow: .seconds(60))
        let records = Self.records(2_000, tenants: 3)
        let stored = try await publisher.publish(records, id: "big")
        #expect(stored.count > 3 * 10, "about 230 KB over three partitions, under 8 KB each")
        let again = try await publisher.publish(records, id: "big")
        #expect(again.filter(\.duplicate).count == stored.count)
        let back = try await Self.readBack(js, stream: "SLUICE")
        #expect(back.values.map(\.count).reduce(0, +) == records.count)
        for (partition, got) in back {
            #expect(got == records.filter { Self.partitioning.partition(tenant: $0.tenantID) == partition })
        }
        await client.close()
    }

    @Test("what the stream holds reads, with nats-py, as one NDJSON record per line")
    func readableByAnyClient() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let client = try await NATSClient.connect(server.client())
        let publisher = try await ClusterPublisher.open(JetStream(client: client), stream: "SLUICE", partitioning: Self.partitioning, duplicateWindow: .seconds(60))
        let records = Self.records(90, tenants: 5)
        _ = try await publisher.publish(records, id: "py")
        let lines = try await Python.run("""
        import asyncio, json, nats
        async def main():
            nc = await nats.connect("\(server.url)")
            js = nc.jetstream()
            sub = await js.pull_subscribe("sluice.in.*", durable="py", stream="SLUICE")
            out = []
            # Until every record is read: a fetch that times out on a loaded machine tries again.
            for attempt in range(60):
                if len(out) >= \(records.count):
                    break
                try:
                    msgs = await sub.fetch(50, timeout=1)
                except (nats.errors.TimeoutError, asyncio.TimeoutError, TimeoutError):
                    continue
                for m in msgs:
                    assert m.data.endswith(b"\\n") and b"\\n\\n" not in m.data, m.data[:200]
                    for line in m.data.decode().split("\\n")[:-1]:
                        out.append({"subject": m.subject, "record": json.loads(line)})
                    await m.ack()
            print(json.dumps(out))
            await nc.close()
        asyncio.run(main())
        """)
        let read = try JSONSerialization.jsonObject(with: lines) as? [[String: Any]] ?? []
        #expect(read.count == records.count)
        for entry in read {
            let record = entry["record"] as? [String: Any] ?? [:]
            let tenant = record["tenant_id"] as? String
            #expect(entry["subject"] as? String == Self.partitioning.subject(Self.partitioning.partition(tenant: tenant)))
        }
        await client.close()
    }
}
