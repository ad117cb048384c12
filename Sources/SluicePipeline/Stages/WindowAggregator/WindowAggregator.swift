import SluiceModel

/// The window aggregator stage: record batches in, closed windows (and forwarded token records
/// and watermarks) out, in record order.
public struct WindowAggregator: Sendable {
    public let configuration: Configuration
    let input: BoundedChannel<RecordBatch>
    let output: BoundedChannel<[StageEvent]>
    /// Raw records and the windows they closed, for the store; `nil` when nothing is stored.
    let storeOutput: BoundedChannel<StoreBatch>?
    let counters: PipelineCounters
    let live: LiveWindows?

    public init(
        configuration: Configuration, input: BoundedChannel<RecordBatch>, output: BoundedChannel<[StageEvent]>,
        storeOutput: BoundedChannel<StoreBatch>? = nil, counters: PipelineCounters, live: LiveWindows? = nil
    ) {
        self.live = live
        self.configuration = configuration
        self.input = input
        self.output = output
        self.storeOutput = storeOutput
        self.counters = counters
    }

    /// Runs until the input ends, then fires every open window and finishes the output.
    public func run() async throws {
        var machine = StateMachine(configuration: configuration)
        var reportedLate = (total: UInt64(0), byWindow: machine.lateByWindow)
        defer {
            output.finish()
            storeOutput?.finish()
        }
        for await incoming in input {
            let batch = incoming.records
            var events: [StageEvent] = []
            var seriesIDs: [Int32] = []
            if storeOutput != nil {
                seriesIDs.reserveCapacity(batch.count)
                for record in batch { seriesIDs.append(machine.record(record, into: &events)) }
            } else {
                for record in batch { machine.record(record, into: &events) }
            }
            if machine.late != reportedLate.total {
                let delta = machine.late - reportedLate.total
                let byWindow = zip(machine.lateByWindow, reportedLate.byWindow).map { $0 - $1 }
                counters.update { summary in
                    summary.late += delta
                    for (i, n) in byWindow.enumerated() where n > 0 {
                        summary.lateByWindow[configuration.windows[i], default: 0] += n
                    }
                }
                reportedLate = (machine.late, machine.lateByWindow)
            }
            if let live, live.isRequested { live.publish(machine.openSummaries()) }
            if let storeOutput, !(batch.isEmpty && events.isEmpty && incoming.acknowledgement == nil) {
                try await storeOutput.send(StoreBatch(records: batch, outputs: events.compactMap(\.output), seriesIDs: seriesIDs,
                                                      acknowledgements: incoming.acknowledgement.map { [$0] } ?? []))
            } else if storeOutput == nil {
                incoming.acknowledgement?.resolve()
            }
            if !events.isEmpty { try await output.send(events) }
        }
        var events: [StageEvent] = []
        machine.inputFinished(into: &events)
        if let storeOutput, !events.isEmpty {
            try await storeOutput.send(StoreBatch(records: [], outputs: events.compactMap(\.output)))
        }
        if !events.isEmpty { try await output.send(events) }
    }
}

/// What the segment writer stores: raw records and the closed windows of the same batch.
public struct StoreBatch: Sendable {
    public var records: [Record]
    public var outputs: [OutputRecord]
    /// The aggregator's series number of each record (-1 when it has none); empty when unknown.
    public var seriesIDs: [Int32]
    /// To resolve once these records are durable.
    public var acknowledgements: [Acknowledgement]

    public init(records: [Record], outputs: [OutputRecord], seriesIDs: [Int32] = [], acknowledgements: [Acknowledgement] = []) {
        self.records = records
        self.outputs = outputs
        self.seriesIDs = seriesIDs
        self.acknowledgements = acknowledgements
    }
}

extension StageEvent {
    /// The output record, when the event is one.
    public var output: OutputRecord? {
        if case .output(let o) = self { return o }
        return nil
    }
}
