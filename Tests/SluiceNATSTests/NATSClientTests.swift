import Foundation
import Testing
import SluiceTesting
@testable import SluiceNATS

/// The client against a real `nats-server -js`, with PyPI's `nats-py` as the independent peer.
@Suite("NATS client against nats-server", .serialized, .timeLimit(.minutes(10)))
struct NATSClientTests {
    /// Payload `i` of `size` bytes: every byte value occurs, as binary data would have it.
    static func payload(_ i: Int, size: Int) -> [UInt8] { (0..<size).map { UInt8((($0 * 31) + i) % 256) } }
    static let sizes = [0, 1, 100, 4_096, 70_000]

    static func connect(_ server: NATSServerPeer, name: String = "sluice-test") async throws -> NATSClient {
        try await NATSClient.connect(server.client(name))
    }

    static func first(_ count: Int, of subscription: NATSSubscription) async -> [NATSMessage] {
        var out: [NATSMessage] = []
        for await message in subscription {
            out.append(message)
            if out.count == count { break }
        }
        return out
    }

    @Test("messages and headers cross between this client and nats-py both ways, at every size, binary included")
    func peer() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let client = try await Self.connect(server)
        #expect(client.serverInfo?.jetStream == true)

        let fromPython = try await client.subscribe("t.from-python")
        let js = JetStream(client: client)
        try await js.ensureStream(JetStream.StreamConfiguration(name: "PEER", subjects: ["peer.>"]))
        for (i, size) in Self.sizes.enumerated() {
            var headers = NATSHeaders()
            if i % 2 == 0 { headers.append("Sluice-Index", String(i)) }
            let ack = try await js.publish("peer.\(i)", payload: Self.payload(i, size: size), messageID: "peer-\(i)", headers: headers)
            #expect(ack.stream == "PEER" && ack.sequence == UInt64(i + 1) && !ack.duplicate)
        }

        let script = """
        import asyncio, json, nats
        async def main():
            nc = await nats.connect("\(server.url)")
            for i, size in enumerate(\(Self.sizes)):
                data = bytes(((j * 31) + i) % 256 for j in range(size))
                await nc.publish("t.from-python", data, headers={"Sluice-Index": str(i)} if i % 2 == 0 else None)
            await nc.flush()
            js = nc.jetstream()
            sub = await js.pull_subscribe("peer.>", durable="py", stream="PEER")
            msgs = await sub.fetch(\(Self.sizes.count), timeout=10)
            out = [{"subject": m.subject, "data": m.data.hex(), "headers": m.headers or {}} for m in msgs]
            for m in msgs:
                await m.ack()
            print(json.dumps(out))
            await nc.close()
        asyncio.run(main())
        """
        let read = try JSONSerialization.jsonObject(with: try await Python.run(script)) as? [[String: Any]] ?? []
        #expect(read.count == Self.sizes.count)
        for (i, entry) in read.enumerated() {
            let headers = entry["headers"] as? [String: String] ?? [:]
            #expect(entry["subject"] as? String == "peer.\(i)")
            #expect(entry["data"] as? String == Self.payload(i, size: Self.sizes[i]).map { String(format: "%02x", $0) }.joined(), "payload \(i)")
            #expect(headers["Nats-Msg-Id"] == "peer-\(i)")
            #expect(headers["Sluice-Index"] == (i % 2 == 0 ? String(i) : nil))
        }

        let received = await Self.first(Self.sizes.count, of: fromPython)
        #expect(received.map(\.payload) == Self.sizes.enumerated().map { Self.payload($0.offset, size: $0.element) })
        #expect(received.map { $0.headers?["sluice-index"] } == Self.sizes.indices.map { $0 % 2 == 0 ? String($0) : nil })
        await client.close()
    }

    @Test("a request gets its reply; a subject nobody listens on fails at once with no responders; a silent one times out")
    func requests() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let service = try await Self.connect(server, name: "service")
        let caller = try await Self.connect(server, name: "caller")
        let requests = try await service.subscribe("svc.echo")
        let silent = try await service.subscribe("svc.silent")
        async let answered: Void = {
            for await request in requests {
                try? service.publish(request.replyTo!, payload: Array("echo:".utf8) + request.payload, headers: request.headers)
            }
        }()
        for i in 0..<20 {
            let reply = try await caller.request("svc.echo", payload: Array("q\(i)".utf8), headers: NATSHeaders([("N", String(i))]))
            #expect(reply.payload == Array("echo:q\(i)".utf8))
            #expect(reply.headers?["n"] == String(i))
        }
        await #expect { _ = try await caller.request("nobody.home") } throws: { ($0 as? NATSError)?.code == .noResponders }
        await #expect { _ = try await caller.request("svc.silent", timeout: .milliseconds(200)) } throws: { ($0 as? NATSError)?.code == .timeout }
        silent.unsubscribe()
        requests.unsubscribe()
        await answered
        await caller.close()
        await service.close()
        #expect { try caller.publish("x", payload: []) } throws: { ($0 as? NATSError)?.code == .closed }
    }

    @Test("JetStream stores a message id once, and a pull consumer delivers each message of its subject in order until acknowledged")
    func jetStream() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let client = try await Self.connect(server)
        let js = JetStream(client: client)
        try await js.ensureStream(JetStream.StreamConfiguration(name: "SLUICE", subjects: ["sluice.in.*"]))
        // Idempotent: the same settings again are fine.
        try await js.ensureStream(JetStream.StreamConfiguration(name: "SLUICE", subjects: ["sluice.in.*"]))
        var sequences: [UInt64] = []
        for i in 0..<30 {
            sequences.append(try await js.publish("sluice.in.\(i % 3)", payload: Array("r\(i)".utf8), messageID: "batch-\(i)").sequence)
        }
        // Retried publishes of the same ids: stored once, answered with the first copy's sequence.
        for i in 0..<10 {
            let again = try await js.publish("sluice.in.\(i % 3)", payload: Array("r\(i)".utf8), messageID: "batch-\(i)")
            #expect(again.duplicate && again.sequence == sequences[i])
        }
        let state = try await js.streamState("SLUICE")
        #expect(state.messages == 30 && state.lastSequence == 30)

        try await js.ensureConsumer(stream: "SLUICE", JetStream.ConsumerConfiguration(durableName: "p1", filterSubject: "sluice.in.1"))
        var delivered: [JetStreamMessage] = []
        for expected in [4, 4, 2] {
            let batch = try await js.fetch(stream: "SLUICE", consumer: "p1", batch: 4)
            #expect(batch.count == expected)
            delivered += batch
        }
        #expect(try await js.fetch(stream: "SLUICE", consumer: "p1", batch: 4, expires: .milliseconds(200)).isEmpty)
        // Without waiting: nothing at once when there is nothing; what there is, however short
        // of the batch, when there is some.
        #expect(try await js.fetch(stream: "SLUICE", consumer: "p1", batch: 4, expires: .seconds(3_600), noWait: true).isEmpty)
        try await js.ensureConsumer(stream: "SLUICE", JetStream.ConsumerConfiguration(durableName: "p0", filterSubject: "sluice.in.0"))
        let available = try await js.fetch(stream: "SLUICE", consumer: "p0", batch: 100, expires: .seconds(3_600), noWait: true)
        let partition0: [UInt64] = (0..<30).filter { $0 % 3 == 0 }.map { sequences[$0] }
        #expect(available.map(\.streamSequence) == partition0)
        let expected = (0..<30).filter { $0 % 3 == 1 }
        #expect(delivered.map { String(decoding: $0.message.payload, as: UTF8.self) } == expected.map { "r\($0)" })
        #expect(delivered.map(\.streamSequence) == expected.map { sequences[$0] })
        #expect(delivered.map(\.pending) == (0..<10).map { UInt64(9 - $0) })
        #expect(delivered.map(\.consumerSequence) == Array(1...10), "the consumer numbers its deliveries without a gap")
        for message in delivered { try await message.acknowledge() }
        let consumer = try await js.consumerState(stream: "SLUICE", consumer: "p1")
        #expect(consumer.pending == 0 && consumer.acknowledgementsPending == 0 && consumer.acknowledgedFloor >= sequences[28], "\(consumer)")

        // Not acknowledged: delivered again after the acknowledgement wait.
        var patient = JetStream.ConsumerConfiguration(durableName: "p2", filterSubject: "sluice.in.2")
        patient.acknowledgementWait = .milliseconds(300)
        try await js.ensureConsumer(stream: "SLUICE", patient)
        let first = try #require(try await js.fetch(stream: "SLUICE", consumer: "p2", batch: 1).first)
        #expect(first.deliveries == 1)
        var again: JetStreamMessage?
        while again == nil || again?.streamSequence != first.streamSequence {
            // Later messages of the subject come first or after; the unacknowledged one returns.
            let batch = try await js.fetch(stream: "SLUICE", consumer: "p2", batch: 10, expires: .seconds(5))
            for message in batch { if message.streamSequence == first.streamSequence { again = message } else { try await message.acknowledge() } }
        }
        #expect(again?.deliveries == 2)

        let counted = try await Python.run("""
        import asyncio, nats
        async def main():
            nc = await nats.connect("\(server.url)")
            info = await nc.jetstream().stream_info("SLUICE")
            print(info.state.messages)
            await nc.close()
        asyncio.run(main())
        """)
        #expect(String(decoding: counted, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "30", "nats-py counts the stream")
        await client.close()
    }

    @Test("a KV bucket with a TTL is a lease table: one holder at a time, renewals on the revision seen, and entries that age out")
    func leases() async throws {
        let server = try await NATSServerPeer.start()
        defer { server.kill() }
        let one = try await Self.connect(server, name: "n1")
        let two = try await Self.connect(server, name: "n2")
        // Long enough that nothing ages out while the steps run on a loaded machine: the test
        // reads the age back from the bucket, and the partition leases' test waits one out.
        let ttl = Duration.seconds(30)
        let kv1 = try await KeyValue.open(JetStream(client: one), bucket: "leases", ttl: ttl)
        let kv2 = try await KeyValue.open(JetStream(client: two), bucket: "leases", ttl: ttl)

        let claimed = try await kv1.create("p0", Array("n1".utf8))
        await #expect { _ = try await kv2.create("p0", Array("n2".utf8)) } throws: { ($0 as? NATSError)?.apiCode == 10_071 }
        let renewed = try await kv1.update("p0", Array("n1".utf8), revision: claimed)
        #expect(renewed > claimed)
        await #expect { _ = try await kv2.update("p0", Array("n2".utf8), revision: claimed) } throws: { ($0 as? NATSError)?.apiCode == 10_071 }
        #expect(try await kv2.get("p0") == KeyValue.Entry(key: "p0", value: Array("n1".utf8), revision: renewed, deleted: false))
        #expect(try await kv2.get("p1") == nil)

        // Released, then taken by the other.
        try await kv1.delete("p0", revision: renewed)
        #expect(try await kv2.get("p0")?.deleted == true)
        #expect(try await kv2.create("p0", Array("n2".utf8)) > renewed)
        #expect(try await kv1.get("p0")?.value == Array("n2".utf8))

        // Nobody renews: the server drops an entry a TTL after its last write, because the
        // bucket's stream has that maximum age. (That a dead holder's claims then pass to
        // another node is the partition leases' test, which waits on their rounds.)
        let info = try await one.request("$JS.API.STREAM.INFO.KV_leases")
        let config = (try JSONSerialization.jsonObject(with: Data(info.payload)) as? [String: Any])?["config"] as? [String: Any]
        #expect((config?["max_age"] as? NSNumber)?.int64Value == 30_000_000_000)
        #expect((config?["max_msgs_per_subject"] as? NSNumber)?.intValue == 1)
        await one.close()
        await two.close()
    }

    @Test("after the server is killed and comes back on the same address, the client reconnects and its subscriptions and streams are there")
    func reconnect() async throws {
        let server = try await NATSServerPeer.start()
        let client = try await Self.connect(server)
        let js = JetStream(client: client)
        try await js.ensureStream(JetStream.StreamConfiguration(name: "DURABLE", subjects: ["durable.>"]))
        _ = try await js.publish("durable.a", payload: Array("kept".utf8), messageID: "d1")
        let subscription = try await client.subscribe("live.>")

        server.kill()
        // The client notices: nothing answers a PING any more.
        await #expect(throws: NATSError.self) { try await client.flush() }
        #expect(!client.isConnected)
        let again = try await NATSServerPeer.start(port: server.port, storeDirectory: server.storeDirectory)
        defer { again.kill() }
        try await client.waitForConnection(timeout: .seconds(30))
        #expect(client.reconnects == 1)

        let other = try await Self.connect(again, name: "other")
        try other.publish("live.x", payload: Array("after".utf8))
        try await other.flush()
        let received = await Self.first(1, of: subscription)
        #expect(received.map(\.payload) == [Array("after".utf8)])
        #expect(try await js.streamState("DURABLE").messages == 1)
        // The stored id is still known: a retry after the restart is a duplicate.
        #expect(try await js.publish("durable.a", payload: Array("kept".utf8), messageID: "d1").duplicate)
        await other.close()
        await client.close()
    }
}
