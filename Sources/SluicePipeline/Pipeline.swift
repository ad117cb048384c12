import SluiceModel

/// A stage after the window aggregator: takes ordered events, adds its own (anomalies, token
/// usage, budget alerts) in their place, and passes everything on.
public protocol EventStage: Sendable {
    /// Runs until `input` ends, then finishes `output`.
    func run(input: BoundedChannel<[StageEvent]>, output: BoundedChannel<[StageEvent]>) async throws
}

/// A consumer of raw records and closed windows beside the main line (the segment writer).
public protocol StoreStage: Sendable {
    func run(input: BoundedChannel<StoreBatch>) async throws
}

/// The stages wired together (design §1):
///
/// ```
/// sources ─RecordBatch→ WindowAggregator ─[StageEvent]→ stages… ─[StageEvent]→ SinkStage → sinks
///                          └──────────── StoreBatch ─→ store
/// ```
///
/// Sources send batches to `input` and call `input.finish()` when they are done; `run()`
/// returns once everything sent has reached the sinks (and the store).
public struct Pipeline: Sendable {
    public struct Configuration: Sendable {
        public var aggregator: WindowAggregator.Configuration
        /// Batches each channel holds before its producer waits.
        public var channelCapacity: Int
        /// End the output with a `summary` record.
        public var emitSummary: Bool

        public init(aggregator: WindowAggregator.Configuration = .init(), channelCapacity: Int = 4, emitSummary: Bool = true) {
            self.aggregator = aggregator
            self.channelCapacity = channelCapacity
            self.emitSummary = emitSummary
        }
    }

    public let configuration: Configuration
    /// Where sources send record batches.
    public let input: BoundedChannel<RecordBatch>
    public let counters: PipelineCounters
    let stages: [any EventStage]
    let sinks: [any Sink]
    let store: (any StoreStage)?
    /// The aggregator's open windows, for live queries.
    public let live = LiveWindows()

    public init(
        configuration: Configuration, stages: [any EventStage] = [], sinks: [any Sink],
        store: (any StoreStage)? = nil, counters: PipelineCounters = PipelineCounters()
    ) {
        self.configuration = configuration
        self.input = BoundedChannel(capacity: configuration.channelCapacity)
        self.counters = counters
        self.stages = stages
        self.sinks = sinks
        self.store = store
    }

    /// Runs every stage until the input is finished and drained. If one stage fails, the others
    /// are cancelled and the error is rethrown.
    public func run() async throws {
        let capacity = configuration.channelCapacity
        var channels = [BoundedChannel<[StageEvent]>(capacity: capacity)]
        for _ in stages { channels.append(BoundedChannel(capacity: capacity)) }
        let storeChannel = store.map { _ in BoundedChannel<StoreBatch>(capacity: capacity) }
        let aggregator = WindowAggregator(
            configuration: configuration.aggregator, input: input, output: channels[0],
            storeOutput: storeChannel, counters: counters, live: live
        )
        let sinkStage = SinkStage(input: channels[stages.count], sinks: sinks, counters: counters, emitSummary: configuration.emitSummary)
        let allChannels = channels
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await aggregator.run() }
            for (i, stage) in stages.enumerated() {
                let (stageInput, stageOutput) = (allChannels[i], allChannels[i + 1])
                group.addTask {
                    defer { stageOutput.finish() }
                    try await stage.run(input: stageInput, output: stageOutput)
                }
            }
            if let store, let storeChannel {
                group.addTask { try await store.run(input: storeChannel) }
            }
            group.addTask { try await sinkStage.run() }
            do {
                try await group.waitForAll()
            } catch {
                // Unblock everyone: producers waiting on a full channel fail instead of hanging.
                input.close()
                for c in allChannels { c.close() }
                storeChannel?.close()
                group.cancelAll()
                throw error
            }
        }
    }
}
