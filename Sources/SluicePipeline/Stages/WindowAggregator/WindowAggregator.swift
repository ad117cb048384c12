import SluiceModel

/// The window aggregator stage: record batches in, closed windows (and forwarded token records
/// and watermarks) out, in record order. With a store, each batch's raw records go on to it
/// as well, after the aggregator has taken them, with the windows they closed and any
/// checkpoint of the open ones: the store finds each sample's series by the number the
/// aggregator found (`StoredSample`), and never holds a checkpoint ahead of the records it
/// counts.
public struct WindowAggregator: Sendable {
    public let configuration: Configuration
    let input: BoundedChannel<RecordBatch>
    let output: BoundedChannel<[StageEvent]>
    /// Closed windows and checkpoints, for the store; `nil` when nothing is stored.
    let store: BoundedChannel<StoreBatch>?
    let counters: PipelineCounters
    let live: LiveWindows?
    /// Where it counts the records it has taken and the windows it has closed.
    let progress: Watched<PipelineProgress>?
    /// Where a restart picks up; `nil` starts empty.
    let resumption: Resumption?
    /// How the input ended (read once it has).
    let ending: @Sendable () -> Pipeline.Ending

    /// A machine resumed from a checkpoint, and what resuming it emitted (windows that had
    /// closed before a crash but were not stored).
    public struct Resumption: Sendable {
        public var machine: StateMachine
        public var events: [StageEvent]
        public init(machine: StateMachine, events: [StageEvent]) {
            self.machine = machine
            self.events = events
        }
    }

    public init(
        configuration: Configuration, input: BoundedChannel<RecordBatch>, output: BoundedChannel<[StageEvent]>,
        store: BoundedChannel<StoreBatch>? = nil, counters: PipelineCounters, live: LiveWindows? = nil,
        progress: Watched<PipelineProgress>? = nil, resumption: Resumption? = nil, ending: @escaping @Sendable () -> Pipeline.Ending = { .flush }
    ) {
        self.configuration = configuration
        self.input = input
        self.output = output
        self.store = store
        self.counters = counters
        self.live = live
        self.progress = progress
        self.resumption = resumption
        self.ending = ending
    }

    /// Runs until the input ends. Then, for a flush, fires every open window; for a suspend
    /// (a graceful stop with a store), checkpoints them instead so a restart resumes them.
    /// Finishes its output either way; the store's channel is the sink stage's to finish, as
    /// the anomalies that reach the store come after the windows.
    public func run() async throws {
        var machine = resumption?.machine ?? StateMachine(configuration: configuration)
        var late = LateCount(machine)
        defer { output.finish() }
        count(records: 0, events: resumption?.events ?? [])
        try await emit(resumption?.events ?? [], checkpoint: nil)
        // The registry's series the store has been given the keys of.
        var keysSent = 0
        for await batch in input {
            var events: [StageEvent] = []
            var raw: StoreBatch?
            if store != nil, !batch.records.isEmpty || !batch.acknowledgements.isEmpty || !batch.receipts.isEmpty {
                var stored: [StoredSample] = []
                stored.reserveCapacity(batch.records.count)
                batch.records.withUnsafeBufferPointer { machine.take($0, into: &events, stored: &stored) }
                let keys = Array(machine.registry.keys[keysSent...])
                keysSent = machine.registry.count
                raw = StoreBatch(records: batch.records, samples: stored, seriesKeys: keys, acknowledgements: batch.acknowledgements,
                                 receipts: batch.receipts)
            } else {
                batch.records.withUnsafeBufferPointer { machine.take($0, into: &events) }
            }
            if let position = batch.position { machine.position = position }
            late.report(machine, counters: counters, windows: configuration.windows)
            count(records: batch.records.count, events: events)
            if let live, live.isRequested { live.publish(machine.openSummaries()) }
            try await emit(events, checkpoint: batch.checkpoint ? .save(machine.checkpoint().encoded()) : nil, raw: raw)
        }
        var events: [StageEvent] = []
        switch ending() {
        case .suspend where store != nil:
            try await emit([], checkpoint: .save(machine.checkpoint().encoded()))
        case .flush, .suspend:
            machine.inputFinished(into: &events)
            count(records: 0, events: events)
            try await emit(events, checkpoint: .clear)
        }
    }

    /// Counted before the events are sent on, so a waiter never sees the sinks ahead of it.
    private func count(records: Int, events: [StageEvent]) {
        guard let progress, records > 0 || !events.isEmpty else { return }
        let windows = PipelineProgress.windows(in: events.lazy.compactMap(\.output))
        progress.update {
            $0.recordsAggregated += UInt64(records)
            $0.windowsClosed += windows
        }
    }

    /// Sends the windows `events` closed (and a checkpoint) to the store, after `raw`, the
    /// batch's own records, in one batch; then `events` down the line.
    private func emit(_ events: [StageEvent], checkpoint: StoreBatch.Checkpoint?, raw: StoreBatch? = nil) async throws {
        if let store {
            var batch = raw ?? StoreBatch()
            batch.outputs = events.compactMap(\.output)
            batch.checkpoint = checkpoint
            if raw != nil || !batch.outputs.isEmpty || checkpoint != nil {
                do {
                    try await store.send(batch)
                } catch {
                    // The store stage has ended: nothing will store these records, and nothing
                    // holds them. Their requests hear that they are not durable, as when the
                    // edge's own send failed, not that they are held for a retry.
                    for waiting in batch.acknowledgements { waiting.resolve(.cancelled) }
                    throw error
                }
            }
        }
        if !events.isEmpty { try await output.send(events) }
    }

    /// Late records counted so far, so only the change goes to the counters.
    struct LateCount {
        var total: UInt64
        var byWindow: [UInt64]

        init(_ machine: StateMachine) {
            total = machine.late
            byWindow = machine.lateByWindow
        }

        mutating func report(_ machine: StateMachine, counters: PipelineCounters, windows: [WindowDuration]) {
            guard machine.late != total else { return }
            let delta = machine.late - total
            let byWindow = zip(machine.lateByWindow, self.byWindow).map { $0 - $1 }
            counters.update { summary in
                summary.late += delta
                for (i, n) in byWindow.enumerated() where n > 0 { summary.lateByWindow[windows[i], default: 0] += n }
            }
            self = LateCount(machine)
        }
    }
}

extension StageEvent {
    /// The output record, when the event is one.
    public var output: OutputRecord? {
        if case .output(let o) = self { return o }
        return nil
    }
}
