import SluiceModel

/// The last stage: hands output records to every sink, in order, and closes the run with the
/// `summary` record once everything upstream has drained. Anomalies, which the event stages
/// add after the windows went to the store, go to the store from here, and so do the
/// detector's checkpoints, each with the anomalies before it; being last to drain, this stage
/// finishes the store's channel.
public struct SinkStage: Sendable {
    let input: BoundedChannel<[StageEvent]>
    let sinks: [any Sink]
    let counters: PipelineCounters
    /// Emit a `summary` record at the end (`run`, `replay`).
    let emitSummary: Bool
    /// Where anomalies are stored; `nil` when nothing is stored.
    let store: BoundedChannel<StoreBatch>?
    /// Where it counts the windows every sink has been handed.
    let progress: Watched<PipelineProgress>?

    public init(input: BoundedChannel<[StageEvent]>, sinks: [any Sink], counters: PipelineCounters, emitSummary: Bool,
                store: BoundedChannel<StoreBatch>? = nil, progress: Watched<PipelineProgress>? = nil) {
        self.input = input
        self.sinks = sinks
        self.counters = counters
        self.emitSummary = emitSummary
        self.store = store
        self.progress = progress
    }

    public func run() async throws {
        defer { store?.finish() }
        for await events in input {
            var records: [OutputRecord] = []
            records.reserveCapacity(events.count)
            var emitted: [String: UInt64] = [:]
            var stored = StoreBatch()
            for event in events {
                switch event {
                case .output(let record):
                    records.append(record)
                    emitted[record.typeName, default: 0] += 1
                    if case .anomaly = record { stored.outputs.append(record) }
                case .detectorCheckpoint(let state):
                    // Kept only after the anomalies before it: the writer stores them first.
                    stored.detectorCheckpoint = state
                    try await store?.send(stored)
                    stored = StoreBatch()
                case .tokenUsage, .watermark:
                    break
                }
            }
            if !stored.outputs.isEmpty { try await store?.send(stored) }
            guard !records.isEmpty else { continue }
            counters.update { summary in
                for (type, n) in emitted { summary.emitted[type, default: 0] += n }
            }
            for sink in sinks { try await sink.write(records) }
            if let progress {
                let windows = PipelineProgress.windows(in: records)
                if windows > 0 { progress.update { $0.windowsDelivered += windows } }
            }
        }
        if emitSummary {
            let summary = OutputRecord.summary(counters.snapshot)
            for sink in sinks { try await sink.write([summary]) }
        }
        for sink in sinks { try await sink.finish() }
    }
}
