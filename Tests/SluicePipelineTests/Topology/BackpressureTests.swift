import Testing
import Synchronization
import SluiceModel
import SluiceTesting
@testable import SluicePipeline

/// A slow sink must make the reader wait (bounded memory) and must not lose anything.
@Suite("Back-pressure")
struct BackpressureTests {
    /// Counts the chunks the pipeline has pulled from its source.
    final class CountingSource: AsyncSequence, Sendable {
        typealias Element = [UInt8]
        let chunks: [[UInt8]]
        let pulled = Atomic<Int>(0)
        init(chunks: [[UInt8]]) { self.chunks = chunks }

        struct AsyncIterator: AsyncIteratorProtocol {
            let source: CountingSource
            mutating func next() async -> [UInt8]? {
                let i = source.pulled.add(1, ordering: .relaxed).oldValue
                return i < source.chunks.count ? source.chunks[i] : nil
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }
    }

    @Test("a stalled sink stops the reader after a bounded number of chunks; opened, everything arrives")
    func slowSinkSuspendsReader() async throws {
        // One-second windows, one chunk per second of event time: every chunk closes a window,
        // so every chunk produces output the stalled sink must take.
        let base: Int64 = 1_795_514_400
        var chunks: [[UInt8]] = []
        for second in 0..<400 {
            var chunk = ""
            for i in 0..<50 { chunk += "{\"metric_name\":\"m\",\"value\":\(i),\"timestamp\":\(base + Int64(second))}\n" }
            chunks.append(Array(chunk.utf8))
        }
        let source = CountingSource(chunks: chunks)
        let gate = Gate()
        let sink = RecordingSink(gate: gate)
        let capacity = 2
        let pipeline = Pipeline(configuration: .init(aggregator: .init(windows: [.seconds(1)], lateness: .zero), channelCapacity: capacity), sinks: [sink])
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ContinuousClock(), ingestTime: nil)

        async let drained: Void = pipeline.run()
        async let ingested = edge.stream(source) { _ in }

        // Wait for the sink to be blocked on its first batch and the pipeline's input to fill,
        // then give the reader every chance to run ahead.
        while sink.batches == 0 || pipeline.input.count < capacity { await Task.yield() }
        for _ in 0..<2_000 { await Task.yield() }
        let pulledWhileStalled = source.pulled.load(ordering: .relaxed)
        // Ingest holds one batch in hand, each of the two channels holds `capacity` batches plus
        // one parked producer, and the aggregator and the sink stage hold one each.
        let bound = 1 + 2 * (capacity + 1) + 2 + 1
        #expect(pulledWhileStalled <= bound, "the reader ran ahead to \(pulledWhileStalled) chunks")
        #expect(pulledWhileStalled < chunks.count)

        gate.open()
        _ = try await ingested
        pipeline.finishInput(.flush)
        try await drained
        let windows = sink.records.compactMap { if case .window(let w) = $0 { w } else { nil } }
        #expect(windows.count == 400)
        #expect(windows.allSatisfy { $0.count == 50 })
        #expect(sink.finished)
    }
}
