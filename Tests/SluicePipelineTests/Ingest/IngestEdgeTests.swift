import Synchronization
import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting

/// The ingest edge's rules, the same for every source: tenants, rate limits, the enqueue
/// deadline, counters by reason, and where the records go. Time is a manual clock.
/// The limit detects hangs: alone the suite takes seconds, but in a full run the parallel-decode
/// test's many small tasks wait behind every other test for the runner's threads.
@Suite("Ingest edge", .timeLimit(.minutes(10)))
struct IngestEdgeTests {
    /// A store that keeps what it is sent.
    final class StoreRecorder: StoreStage {
        let batches = Mutex<[StoreBatch]>([])
        func run(input: BoundedChannel<StoreBatch>) async throws {
            for await batch in input {
                batches.withLock { $0.append(batch) }
                for a in batch.acknowledgements { a.resolve() }
            }
        }
    }

    /// Submits `batch` on a task of its own, which ends with the refusal, or `nil` once taken.
    static func submitting(_ batch: DecodedBatch, to edge: IngestEdge) -> Task<IngestRefusal?, Never> {
        Task {
            do throws(IngestRefusal) {
                _ = try await edge.submit(batch, tenancy: .any)
                return nil
            } catch {
                return error
            }
        }
    }

    func message(_ edge: IngestEdge, _ text: String, tenancy: IngestEdge.Tenancy = .any) throws -> DecodedBatch {
        try Array(text.utf8).withUnsafeBufferPointer { bytes throws(IngestRefusal) in try edge.decode(message: bytes, arrays: true, tenancy: tenancy) }
    }

    @Test("raw records go from the edge to the store and to the aggregator; bad lines are counted by reason")
    func rawRecordsToStore() async throws {
        let store = StoreRecorder()
        let sink = RecordingSink()
        let pipeline = Pipeline(configuration: .init(), sinks: [sink], store: store)
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ManualClock(), ingestTime: nil)
        async let drained: Void = pipeline.run()
        let input = #"{"metric_name":"a","value":1,"timestamp":60}"# + "\n" + #"{"metric_name":"a","value":"x","timestamp":61}"# + "\n\n"
            + #"{"type":"token_usage","tenant_id":"t","request_id":"r1","model":"m","prompt_tokens":1,"completion_tokens":2,"timestamp":62}"# + "\n"
        let errors = Mutex<[LineError]>([])
        let outcome = try await edge.stream(MemoryChunks(bytes: Array(input.utf8), chunkBytes: 7)) { e in errors.withLock { $0.append(e) } }
        pipeline.finishInput(.flush)
        try await drained
        #expect(outcome == .completed)
        #expect(errors.withLock { $0.map(\.line) } == [2])
        let stored = store.batches.withLock { $0 }
        #expect(stored.flatMap(\.records).count == 2, "raw records reach the store")
        #expect(stored.flatMap(\.outputs).contains { if case .window = $0 { true } else { false } }, "closed windows reach it too")
        #expect(stored.last?.checkpoint == .clear, "end of input closes every window: no checkpoint is left")
        let counters = pipeline.counters.snapshot
        #expect(counters.records == 2 && counters.errors == 1)
        #expect(counters.errorsByReason.values.reduce(0, +) == 1)
        #expect(counters.recordsByType[.tokenUsage] == 1)
    }

    /// A stream of `count` lines with what real producers send mixed in: CRLF endings, blank
    /// lines, a byte order mark, a line over the limit, and bad lines. Returns the bytes, the
    /// records a line-by-line decoder makes of them in order, and the numbers of refused lines.
    static func mixedStream(count: Int, limit: Int) -> (bytes: [UInt8], records: [Record], refused: [Int]) {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF]
        var records: [Record] = []
        var refused: [Int] = []
        let decoder = NDJSONDecoder()
        for i in 1...count {
            let line: String
            switch i % 97 {
            case 13: line = ""
            case 29: line = #"{"metric_name":"m","value":"not a number","timestamp":60}"#
            case 31: line = #"{"metric_name":"long","value":1,"timestamp":60,"pad":""# + String(repeating: "x", count: limit) + #""}"#
            // Long names (kept by the intern table), the same name written with an escape, and
            // label sets that repeat in other key orders.
            case 41, 42: line = #"{"metric_name":"http_server_req\u0075est_duration_\#(i % 7)","tenant_id":"t\#(i % 3)","labels":{"zone":"b","k":"v\#(i % 5)"},"value":\#(i),"timestamp":61}"#
            default: line = #"{"metric_name":"\#(i % 3 == 0 ? "http_server_request_duration_" : "m")\#(i % 7)","tenant_id":"t\#(i % 3)","labels":{"k":"v\#(i % 5)"\#(i % 4 == 0 ? #","zone":"b""# : "")},"value":\#(i),"timestamp":"2030-01-01T00:\#(10 + i / 600 % 50):0\#(i % 10).\#(i % 1000)Z"}"#
            }
            bytes += Array(line.utf8) + (i % 2 == 0 ? [0x0D, 0x0A] : [0x0A])
            if line.isEmpty { continue }
            if line.utf8.count > limit { refused.append(i); continue }
            switch decoder.decode(line, ingestTime: nil) {
            case .success(let r): records.append(r)
            case .failure: refused.append(i)
            }
        }
        return (bytes, records, refused)
    }

    @Test("chunks decoded on several tasks reach the aggregator in stream order, with the line numbers of one decoder", arguments: [1, 2, 8])
    func parallelDecodeKeepsOrder(width: Int) async throws {
        let limit = 300
        for chunkBytes in [1, 7, 100, 4_096, 1 << 20] {
            // Every kind of line comes round each 97 lines: 400 of them put a chunk edge inside
            // each kind several times over, and keep the byte-sized chunks' task hops few.
            let (bytes, expected, refused) = Self.mixedStream(count: chunkBytes < 100 ? 400 : 3_000, limit: limit)
            var configuration = IngestEdge.Configuration()
            configuration.decodeWidth = width
            configuration.decoder.maximumLineBytes = limit
            let pipeline = Pipeline(configuration: .init(), sinks: [RecordingSink()])
            let taken = Mutex<[Record]>([])
            let edge = IngestEdge(configuration: configuration, pipeline: pipeline, clock: ManualClock(), ingestTime: nil,
                                  tap: { batch in taken.withLock { $0 += batch } })
            async let drained: Void = pipeline.run()
            let errors = Mutex<[Int]>([])
            let outcome = try await edge.stream(MemoryChunks(bytes: bytes, chunkBytes: chunkBytes)) { e in errors.withLock { $0.append(e.line) } }
            pipeline.finishInput(.flush)
            try await drained
            #expect(outcome == .completed)
            #expect(taken.withLock { $0 } == expected, "width \(width), chunks of \(chunkBytes) bytes")
            #expect(errors.withLock { $0 } == refused, "width \(width), chunks of \(chunkBytes) bytes")
            #expect(pipeline.counters.snapshot.records == UInt64(expected.count))
        }
    }

    @Test("an intern table too small for the stream starts over and decodes every record as a fresh decoder would")
    func smallInternTable() {
        let (bytes, expected, refused) = Self.mixedStream(count: 2_000, limit: 1 << 20)
        for capacity in [0, 1, 3, 4_096] {
            var decoder = IngestDecoder(decoder: .init(), intern: InternTable(capacity: capacity))
            bytes.withUnsafeBufferPointer { decoder.feed($0, now: nil, source: nil) }
            decoder.finish(now: nil, source: nil)
            let batch = decoder.take()
            #expect(batch.records == expected, "capacity \(capacity)")
            #expect(batch.rejections.map(\.line) == refused)
            #expect(decoder.intern.labelSetCount <= capacity)
            if capacity > 3 { #expect(decoder.intern.labelSetCount >= 10, "5 values of k, with and without zone, in two orders") }
        }
    }

    @Test("--strict with parallel decoding stops at the first bad line: nothing after it is taken, though later chunks were decoded")
    func parallelDecodeStrict() async throws {
        let (bytes, expected, refused) = Self.mixedStream(count: 1_000, limit: 1 << 20)
        let firstBad = try #require(refused.first)
        let before = Self.mixedStream(count: firstBad - 1, limit: 1 << 20).records
        #expect(before.count < expected.count)
        for chunkBytes in [64, 1_000] {
            var configuration = IngestEdge.Configuration()
            configuration.decodeWidth = 4
            configuration.strict = true
            let pipeline = Pipeline(configuration: .init(), sinks: [RecordingSink()])
            let taken = Mutex<[Record]>([])
            let edge = IngestEdge(configuration: configuration, pipeline: pipeline, clock: ManualClock(), ingestTime: nil,
                                  tap: { batch in taken.withLock { $0 += batch } })
            async let drained: Void = pipeline.run()
            let outcome = try await edge.stream(MemoryChunks(bytes: bytes, chunkBytes: chunkBytes)) { _ in }
            pipeline.finishInput(.flush)
            try await drained
            guard case .stopped(let error) = outcome else { Issue.record("expected a stop, got \(outcome)"); continue }
            #expect(error.line == firstBad)
            #expect(taken.withLock { $0 } == before, "chunks of \(chunkBytes) bytes")
        }
    }

    /// A store whose disk fails at its first batch: it stops reading its channel.
    final class FailingStore: StoreStage {
        struct DiskFailed: Error {}
        func run(input: BoundedChannel<StoreBatch>) async throws {
            for await _ in input { throw DiskFailed() }
        }
    }

    @Test("a store that fails ends the run with its error, though the reader is blocked on the store's full channel")
    func storeFailureEndsTheRun() async throws {
        let pipeline = Pipeline(configuration: .init(channelCapacity: 1), sinks: [RecordingSink()], store: FailingStore())
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ManualClock(), ingestTime: nil)
        let running = Task { try await pipeline.run() }
        var input = ""
        for i in 0..<5_000 { input += #"{"metric_name":"m\#(i % 50)","value":\#(i),"timestamp":\#(60 + i / 100)}"# + "\n" }
        // Small chunks: many store batches, far more than the channel holds.
        let read: Result<IngestEdge.Outcome, any Error>
        do {
            read = .success(try await edge.stream(MemoryChunks(bytes: Array(input.utf8), chunkBytes: 64)) { _ in })
        } catch {
            read = .failure(error)
        }
        pipeline.finishInput(.flush)
        await #expect(throws: FailingStore.DiskFailed.self) { try await running.value }
        if case .success = read { Issue.record("the reader should stop when the pipeline failed, not take all 5,000 lines") }
    }

    /// A store stuck on a write the disk refused: it takes a batch and then neither writes
    /// it nor reads on, as the segment writer does while it retries.
    final class StuckStore: StoreStage {
        let taken = Watched(0)
        func run(input: BoundedChannel<StoreBatch>) async throws {
            for await _ in input { taken.update { $0 += 1 } }
        }
    }

    @Test("records waiting to be durable when the store starts failing are answered at once as held, not left to time out")
    func storeFailsWhileWaiting() async throws {
        let store = StuckStore()
        let health = StoreHealth()
        let pipeline = Pipeline(configuration: .init(), sinks: [], store: store)
        var configuration = IngestEdge.Configuration()
        configuration.waitForDurability = true
        // The deadline never passes on its own: only the failure can end the wait.
        let edge = IngestEdge(configuration: configuration, pipeline: pipeline, health: health, clock: ManualClock(),
                              ingestTime: { Timestamp(microseconds: 0) })
        let running = Task { try await pipeline.run() }
        let batch = try message(edge, #"{"metric_name":"a","value":1}"#)
        let submitted = Self.submitting(batch, to: edge)
        await store.taken.wait { $0 >= 1 }
        health.failed("No space left on device")
        #expect(await submitted.value == .storeUnwritable("No space left on device", held: true))
        pipeline.finishInput(.flush)
        try await running.value
    }

    @Test("a tenant's message takes its tenant; one naming another tenant is refused whole and counts nothing")
    func tenancy() async throws {
        let pipeline = Pipeline(configuration: .init(), sinks: [])
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ManualClock(), ingestTime: { Timestamp(microseconds: 0) })
        async let drained: Void = pipeline.run()
        let own = try message(edge, #"[{"metric_name":"a","value":1}]"#, tenancy: .tenant("t1"))
        #expect(own.records.first?.tenantID == "t1")
        let foreign = try message(edge, #"[{"metric_name":"a","value":1},{"metric_name":"a","value":1,"tenant_id":"t2"}]"#, tenancy: .tenant("t1"))
        await #expect(throws: IngestRefusal.foreignTenant("t2", own: "t1")) { try await edge.submit(foreign, tenancy: .tenant("t1")) }
        #expect(pipeline.counters.snapshot.records == 0)
        let taken = try await edge.submit(own, tenancy: .tenant("t1"))
        #expect(taken.accepted == 1)
        pipeline.finishInput(.flush)
        try await drained
    }

    @Test("the rate limit refills with the clock, per tenant")
    func rateLimit() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(perSecond: 100, clock: clock)
        #expect(limiter.take(100, tenant: "a") == nil)
        #expect(limiter.take(1, tenant: "a") == 1)
        #expect(limiter.take(100, tenant: "b") == nil, "another tenant has its own bucket")
        clock.advance(by: .milliseconds(500))
        #expect(limiter.take(50, tenant: "a") == nil)
        #expect(limiter.take(1, tenant: "a") == 1)
        #expect(limiter.take(250, tenant: "a") == 3, "never more than one second's burst: 250 needs 3 s")
    }

    @Test("a message that finds the pipeline full waits the enqueue timeout on the clock, then is refused with nothing taken")
    func enqueueDeadline() async throws {
        let clock = ManualClock()
        var configuration = IngestEdge.Configuration()
        configuration.enqueueTimeout = .seconds(2)
        // Not running: nothing drains its input.
        let pipeline = Pipeline(configuration: .init(channelCapacity: 1), sinks: [])
        let edge = IngestEdge(configuration: configuration, pipeline: pipeline, clock: clock, ingestTime: { Timestamp(microseconds: 0) })
        let batch = try message(edge, #"{"metric_name":"a","value":1}"#)
        #expect(try await edge.submit(batch, tenancy: .any).accepted == 1)
        let refused = Self.submitting(batch, to: edge)
        while clock.sleeperCount == 0 { await Task.yield() }
        clock.advance(by: .seconds(1))
        #expect(clock.sleeperCount == 1, "still waiting after 1 s")
        clock.advance(by: .seconds(1))
        #expect(await refused.value == .pipelineFull(.seconds(2)))
        #expect(pipeline.counters.snapshot.records == 1, "the refused message counted nothing")
    }
}
