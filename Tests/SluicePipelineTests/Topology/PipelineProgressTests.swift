import Testing
import SluiceModel
import SluiceTesting
@testable import SluicePipeline

/// What `?settle=` waits on: records through the aggregator, windows closed against windows the
/// sinks have taken.
@Suite("Pipeline progress")
struct PipelineProgressTests {
    @Test("windows count as delivered only once every sink has written them; a slow sink holds the count back")
    func deliveredAfterTheSinks() async throws {
        let gate = Gate()
        let sink = RecordingSink(gate: gate)
        let pipeline = Pipeline(configuration: .init(emitSummary: false), sinks: [sink])
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ContinuousClock(), ingestTime: nil)
        async let drained: Void = pipeline.run()

        // Two series over three minutes: the last record's watermark (10:02:05) closes the
        // windows of 10:00 and 10:01 of both series (four), and leaves a's 10:02 open.
        let lines = [("a", "10:00:10"), ("b", "10:00:20"), ("a", "10:01:10"), ("b", "10:01:50"), ("a", "10:02:10")]
            .map { #"{"metric_name":"\#($0.0)","value":1,"timestamp":"2026-11-24T\#($0.1)Z"}"# + "\n" }
        _ = try await edge.stream(MemoryChunks(bytes: Array(lines.joined().utf8), chunkBytes: 1 << 16)) { _ in }
        #expect(pipeline.counters.snapshot.records == 5)

        await pipeline.progress.wait { $0.recordsAggregated == 5 && $0.windowsClosed == 4 }
        // The sink is stuck in its first write: nothing is delivered yet.
        while sink.batches == 0 { await Task.yield() }
        #expect(pipeline.progress.value.windowsDelivered == 0)

        gate.open()
        await pipeline.progress.wait { $0.windowsDelivered == 4 }
        #expect(sink.records.count { if case .window = $0 { true } else { false } } == 4)

        pipeline.finishInput(.flush)
        try await drained
        // The end of input closes the open window: counted as closed and delivered too.
        var expected = PipelineProgress()
        (expected.recordsAggregated, expected.windowsClosed, expected.windowsDelivered) = (5, 5, 5)
        #expect(pipeline.progress.value == expected)
    }
}
