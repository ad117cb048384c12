import Synchronization
import SluiceModel
import SluicePipeline

/// Runs bytes through the real pipeline in-process and collects what comes out.
public struct PipelineHarness {
    public struct Result: Sendable {
        public var records: [OutputRecord]
        public var ndjson: String
        public var errors: [LineError]
        public var outcome: IngestEdge.Outcome
    }

    public var pipeline: Pipeline.Configuration
    public var ingest: IngestEdge.Configuration
    public var stages: [any EventStage]

    public init(windows: [WindowDuration] = [.minutes(1)], lateness: WindowDuration = .seconds(5), stages: [any EventStage] = []) {
        pipeline = Pipeline.Configuration(aggregator: .init(windows: windows, lateness: lateness))
        ingest = IngestEdge.Configuration()
        self.stages = stages
    }

    /// Feeds `bytes` cut into chunks of `chunkBytes` (to prove output does not depend on them).
    public func run(_ bytes: [UInt8], chunkBytes: Int = 64 << 10, ingestTime: (@Sendable () -> Timestamp)? = nil) async throws -> Result {
        let sink = RecordingSink()
        let errors = Mutex<[LineError]>([])
        let pipeline = Pipeline(configuration: pipeline, stages: stages, sinks: [sink])
        let edge = IngestEdge(configuration: ingest, pipeline: pipeline, clock: ContinuousClock(), ingestTime: ingestTime)
        async let drained: Void = pipeline.run()
        let outcome: IngestEdge.Outcome
        do {
            outcome = try await edge.stream(MemoryChunks(bytes: bytes, chunkBytes: chunkBytes)) { e in errors.withLock { $0.append(e) } }
        } catch {
            pipeline.finishInput(.flush)
            try await drained
            throw error
        }
        pipeline.finishInput(.flush)
        try await drained
        return Result(records: sink.records, ndjson: sink.ndjson, errors: errors.withLock { $0 }, outcome: outcome)
    }
}
