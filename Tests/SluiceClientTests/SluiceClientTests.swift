import SluiceTesting
import Testing
@testable import SluiceClient

/// The client's delivery rules, with a scripted server and a manual clock.
@Suite("SluiceClient delivery")
struct SluiceClientTests {
    static func metric(_ value: Int) -> Record {
        .metric(MetricRecord(timestamp: Timestamp(seconds: 1_700_000_000), tenantID: "shop", name: "m", value: Double(value)))
    }

    static func client(_ transport: ScriptedTransport, _ clock: ManualClock, batchSize: Int = 2, capacity: Int = 10,
                       policy: SluiceClient.BufferPolicy = .wait, gzip: Bool = false) -> SluiceClient {
        SluiceClient(configuration: .init(tenant: "shop", flushInterval: .seconds(3600), batchSize: batchSize, bufferCapacity: capacity,
                                          bufferPolicy: policy, gzip: gzip, shutdownTimeout: .seconds(30)),
                     transport: transport, clock: clock)
    }

    @Test("a batch refused with 503 or lost to a connection error is sent again with the same key and bytes")
    func retriesKeepKeyAndBytes() async throws {
        let transport = ScriptedTransport([.status(503, retryAfter: 1), .unreachable])
        let clock = ManualClock()
        let client = Self.client(transport, clock)
        let running = Task { try await client.run() }
        await client.record([Self.metric(1), Self.metric(2)])
        var arrivals = transport.requests.makeAsyncIterator()
        _ = await arrivals.next()
        // The interval timer and the back-off both sleep; the back-off is at least Retry-After.
        await clock.sleepers(atLeast: 2)
        clock.advance(by: .seconds(1))
        _ = await arrivals.next()
        await clock.sleepers(atLeast: 2)
        clock.advance(by: .seconds(5))
        _ = await arrivals.next()
        client.shutdown()
        try await running.value

        let sent = transport.received
        #expect(sent.count == 3)
        #expect(Set(sent.map(\.idempotencyKey)).count == 1, "one key for every attempt")
        #expect(Set(sent.map(\.body)).count == 1, "the same bytes on every attempt")
        #expect(lines(sent[0]).count == 2)
        let stats = client.statistics
        #expect(stats.sent == 2 && stats.retries == 2 && stats.requests == 3 && stats.dropped == 0 && stats.pending == 0)
    }

    @Test("400 is never retried: the records it refuses are counted as rejected, the rest as sent")
    func badRequestIsFinal() async throws {
        let transport = ScriptedTransport([.status(400, body: #"{"accepted":1,"rejected":[{"line":2,"reason":"value: not finite"}]}"#)])
        let clock = ManualClock()
        let client = Self.client(transport, clock)
        let running = Task { try await client.run() }
        await client.record([Self.metric(1), Self.metric(2)])
        client.shutdown()
        try await running.value
        #expect(transport.received.count == 1)
        let stats = client.statistics
        #expect(stats.sent == 1 && stats.rejected == 1 && stats.retries == 0)
    }

    @Test("separate batches get separate keys")
    func keysPerBatch() async throws {
        let transport = ScriptedTransport()
        let client = Self.client(transport, ManualClock())
        let running = Task { try await client.run() }
        await client.record((1...6).map(Self.metric))
        client.shutdown()
        try await running.value
        #expect(transport.received.count == 3)
        #expect(Set(transport.received.map(\.idempotencyKey)).count == 3)
        #expect(transport.received.flatMap(lines) == (1...6).map { Self.metric($0).ndjson.trimmingNewline })
    }

    @Test("the flush interval sends a partial batch")
    func intervalFlush() async throws {
        let transport = ScriptedTransport()
        let clock = ManualClock()
        let client = Self.client(transport, clock, batchSize: 100, capacity: 100)
        let running = Task { try await client.run() }
        await client.record([Self.metric(1), Self.metric(2), Self.metric(3)])
        #expect(transport.received.isEmpty, "three records are not a batch")
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(3600))
        var arrivals = transport.requests.makeAsyncIterator()
        let request = await arrivals.next()
        #expect(request.map(lines)?.count == 3)
        client.shutdown()
        try await running.value
    }

    @Test("under wait a producer is held while Sluice is away, and nothing it recorded is lost")
    func waitHoldsProducers() async throws {
        let transport = ScriptedTransport([.hold])
        let clock = ManualClock()
        let client = Self.client(transport, clock, batchSize: 2, capacity: 2, policy: .wait)
        let running = Task { try await client.run() }
        var arrivals = transport.requests.makeAsyncIterator()
        await client.record([Self.metric(1), Self.metric(2)])
        _ = await arrivals.next()  // 1 and 2 are in flight; the buffer is empty
        await client.record([Self.metric(3), Self.metric(4)])
        let producer = Task { await client.record([Self.metric(5)]) }
        await client.buffer.suspended(atLeast: 1)
        #expect(client.statistics.pending == 5)
        transport.release()
        await producer.value
        client.shutdown()
        try await running.value
        #expect(transport.received.flatMap(lines) == (1...5).map { Self.metric($0).ndjson.trimmingNewline }, "all, in order, once")
        #expect(client.statistics.sent == 5 && client.statistics.dropped == 0)
    }

    @Test("under drop-oldest a producer never waits; drops are counted and reported to Sluice")
    func dropOldestCounts() async throws {
        let transport = ScriptedTransport([.hold])
        let clock = ManualClock()
        let client = Self.client(transport, clock, batchSize: 2, capacity: 2, policy: .dropOldest)
        let running = Task { try await client.run() }
        var arrivals = transport.requests.makeAsyncIterator()
        await client.record([Self.metric(1), Self.metric(2)])
        _ = await arrivals.next()
        for value in 3...7 { await client.record(Self.metric(value)) }
        #expect(client.statistics.dropped == 3)
        transport.release()
        client.shutdown()
        try await running.value
        let delivered = Set(transport.received.flatMap(lines))
        for kept in [1, 2, 6, 7] { #expect(delivered.contains(Self.metric(kept).ndjson.trimmingNewline)) }
        for lost in [3, 4, 5] { #expect(!delivered.contains(Self.metric(lost).ndjson.trimmingNewline)) }
        #expect(delivered.contains { $0.contains(#""metric_name":"sluice_client_dropped_records","value":3"#) },
                "the drops reach Sluice as a metric")
    }

    @Test("graceful shutdown keeps trying for shutdownTimeout, then counts what it could not send")
    func shutdownGivesUp() async throws {
        let transport = ScriptedTransport([], then: .unreachable)
        let clock = ManualClock()
        let client = Self.client(transport, clock, batchSize: 2, capacity: 10)
        await client.record((1...5).map(Self.metric))
        // Shut down before running: the flusher goes straight to the final flush, so every
        // sleep is a back-off (at most 5 s each; the timeout is 30 s). Time moves 5 s whenever
        // the client sleeps, until it gives up.
        client.shutdown()
        let ticker = Task {
            while !Task.isCancelled {
                await clock.sleepers(atLeast: 1)
                if !Task.isCancelled { clock.advance(by: .seconds(5)) }
            }
        }
        try await client.run()
        ticker.cancel()
        let stats = client.statistics
        #expect(stats.sent == 0 && stats.dropped == 5 && stats.pending == 0, "\(stats)")
        #expect(stats.retries >= 5, "it kept trying for the whole timeout: \(stats)")
        #expect(clock.now.offset <= .seconds(35))
    }

    @Test("a URL Sluice cannot be reached at is reported and counted, not retried for ever")
    func misconfiguredURL() async throws {
        for url in ["ftp://127.0.0.1:1", "not a url"] {
            let client = SluiceClient(configuration: .init(url: url, flushInterval: .seconds(3600)))
            let running = Task { try await client.run() }
            await client.record([Self.metric(1), Self.metric(2)])
            client.shutdown()
            try await running.value
            #expect(client.statistics.rejected == 2 && client.statistics.retries == 0, "\(url): \(client.statistics)")
        }
    }

    @Test("bodies of 1 KiB or more are gzip; smaller ones are sent as they are")
    func gzipBodies() async throws {
        let transport = ScriptedTransport()
        let client = Self.client(transport, ManualClock(), batchSize: 50, capacity: 100, gzip: true)
        let running = Task { try await client.run() }
        await client.record((1...50).map(Self.metric))
        await client.record([Self.metric(1)])
        client.shutdown()
        try await running.value
        let (big, small) = (transport.received[0], transport.received[1])
        #expect(big.isGzip && Array(big.body.prefix(2)) == [0x1f, 0x8b])
        #expect(!small.isGzip && lines(small).count == 1)
    }
}

extension String {
    var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
