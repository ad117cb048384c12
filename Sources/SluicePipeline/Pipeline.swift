import Synchronization
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
/// ingest edge ─RecordBatch→ WindowAggregator ─[StageEvent]→ stages… ─[StageEvent]→ SinkStage → sinks
///                                 └─ raw records, closed windows, checkpoints ─→ storeInput ←─ anomalies ─┘
///                                                                                    └─→ store
/// ```
///
/// The ingest edge sends batches to `input`; the aggregator passes each batch's records on to
/// `storeInput` once it has taken them, with the series it found for them. Once every source
/// is done, `finishInput(_:)` says how the input ended, and `run()` returns once everything
/// sent has reached the sinks (and the store).
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
    /// Where the ingest edge sends record batches.
    public let input: BoundedChannel<RecordBatch>
    /// Where the aggregator and the sink stage send what the store keeps; `nil` without one.
    public let storeInput: BoundedChannel<StoreBatch>?
    private let end = InputEnd()
    let resumption: WindowAggregator.Resumption?

    /// How the input ended.
    public enum Ending: Sendable, Equatable {
        /// End of input: every open window fires (stdin or the files ended).
        case flush
        /// A graceful stop: with a store, open windows are checkpointed, not fired, so a
        /// restart resumes them; without one, they fire as for `flush`.
        case suspend
    }
    public let counters: PipelineCounters
    let stages: [any EventStage]
    let sinks: [any Sink]
    let store: (any StoreStage)?
    /// The aggregator's open windows, for live queries.
    public let live = LiveWindows()
    /// Records aggregated and windows delivered so far, for queries that wait for them.
    public let progress = Watched(PipelineProgress())

    public init(
        configuration: Configuration, stages: [any EventStage] = [], sinks: [any Sink],
        store: (any StoreStage)? = nil, counters: PipelineCounters = PipelineCounters(),
        resuming resumption: WindowAggregator.Resumption? = nil
    ) {
        self.configuration = configuration
        self.input = BoundedChannel(capacity: configuration.channelCapacity)
        self.storeInput = store.map { _ in BoundedChannel(capacity: configuration.channelCapacity) }
        self.resumption = resumption
        self.counters = counters
        self.stages = stages
        self.sinks = sinks
        self.store = store
    }

    /// Ends the input: nothing more is sent, and what is in flight drains. The first call
    /// decides how open windows end.
    public func finishInput(_ ending: Ending) {
        end.set(ending)
        input.finish()
    }

    /// Runs every stage until the input is finished and drained. If one stage fails, the others
    /// are cancelled and the error is rethrown.
    public func run() async throws {
        let capacity = configuration.channelCapacity
        var channels = [BoundedChannel<[StageEvent]>(capacity: capacity)]
        for _ in stages { channels.append(BoundedChannel(capacity: capacity)) }
        let storeChannel = storeInput
        let end = self.end
        let aggregator = WindowAggregator(
            configuration: configuration.aggregator, input: input, output: channels[0],
            store: storeChannel, counters: counters, live: live, progress: progress, resumption: resumption, ending: { end.value }
        )
        let sinkStage = SinkStage(input: channels[stages.count], sinks: sinks, counters: counters, emitSummary: configuration.emitSummary,
                                  store: storeChannel, progress: progress)
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
                // `next()`, not `waitForAll()`: the latter rethrows only once every task has
                // ended, and a stage blocked on a channel the failed one no longer drains never
                // would (a full disk under `run` hung there).
                while try await group.next() != nil {}
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

/// How the input ended; the first word is kept.
final class InputEnd: Sendable {
    private let state = Mutex<Pipeline.Ending?>(nil)

    func set(_ ending: Pipeline.Ending) { state.withLock { if $0 == nil { $0 = ending } } }

    var value: Pipeline.Ending { state.withLock { $0 ?? .flush } }
}
