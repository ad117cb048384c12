import SluiceModel

/// Where the anomaly detector keeps its models across restarts (`--data-dir`), so a restart
/// does not begin every series' warm-up again.
public protocol AnomalyDetectorPersistence: Sendable {
    /// The last checkpoint (`AnomalyDetector.StateMachine.encoded()`), or `nil` when there is none.
    func load() throws -> [UInt8]?
    /// Moves a checkpoint that cannot be read aside; returns where it went.
    func setAside() throws -> String
    /// The closed windows stored from `from` (their start) on, in store order.
    func storedWindows(from: Timestamp) throws -> [WindowSummary]
    /// The anomalies stored from `from` (their timestamp) on.
    func storedAnomalies(from: Timestamp) throws -> [Anomaly]
}

/// The anomaly detector stage: watches every closed window and puts an `anomaly` record right
/// after the window that shows one. Everything else passes through untouched, in order.
///
/// With a store, it checkpoints its models every so often and when its input ends: a
/// `detectorCheckpoint` event after the anomalies it has sent, which the store keeps once
/// those are stored. A restart loads the checkpoint and scores the stored windows that closed
/// after it, so the models carry on where they were, and the anomalies those windows show that
/// never reached the store go out first.
public struct AnomalyDetector: EventStage {
    public let configuration: Configuration
    let counters: PipelineCounters
    let persistence: (any AnomalyDetectorPersistence)?
    /// Checkpoint once this many windows (at least one per model) were scored since the last.
    let checkpointEvery: Int
    let report: @Sendable (String) -> Void
    /// Where `run` starts: empty, or the checkpoint brought up to date from the store.
    public let initial: StateMachine
    /// Anomalies the rebuild found that the store does not hold, sent before anything else.
    let pending: [Anomaly]

    public init(
        configuration: Configuration, counters: PipelineCounters, persistence: (any AnomalyDetectorPersistence)? = nil,
        checkpointEvery: Int = 10_000, report: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        self.configuration = configuration
        self.counters = counters
        self.persistence = persistence
        self.checkpointEvery = max(1, checkpointEvery)
        self.report = report
        var machine = StateMachine(configuration: configuration)
        var pending: [Anomaly] = []
        if let persistence {
            // The models are derived data: one that cannot be read costs a warm-up, not a start.
            do {
                if let bytes = try persistence.load() { machine = try StateMachine(configuration: configuration, restoring: bytes) }
            } catch {
                let aside = try persistence.setAside()
                report("the anomaly detector's checkpoint cannot be read (\((error as? BinaryDecodingError)?.message ?? "\(error)")); moved to \(aside); every series warms up again")
            }
            if let from = machine.rebuildFrom {
                let windows = try persistence.storedWindows(from: from)
                pending = machine.recover(windows: windows, storedAnomalies: try persistence.storedAnomalies(from: from))
                if !windows.isEmpty {
                    report("anomaly detector: resumed \(machine.modelCount) models and scored the \(windows.count) stored windows its checkpoint missed")
                }
            }
        }
        initial = machine
        self.pending = pending
    }

    public func run(input: BoundedChannel<[StageEvent]>, output: BoundedChannel<[StageEvent]>) async throws {
        var machine = initial
        let checkpoints = persistence != nil
        if !pending.isEmpty {
            counters.add("anomalies", UInt64(pending.count))
            var out: [StageEvent] = pending.map { .output(.anomaly($0)) }
            if checkpoints { out.append(.detectorCheckpoint(machine.encoded())) }
            try await output.send(out)
        }
        var scored = 0
        for await events in input {
            let before = machine.anomalies
            var out: [StageEvent] = []
            out.reserveCapacity(events.count)
            for event in events {
                out.append(event)
                if case .output(.window(let w)) = event {
                    scored += 1
                    for anomaly in machine.window(w) { out.append(.output(.anomaly(anomaly))) }
                }
            }
            counters.add("anomalies", machine.anomalies - before)
            // The model count is summed over every series: only once the cheaper test passes.
            if checkpoints, scored >= checkpointEvery, scored >= machine.modelCount {
                out.append(.detectorCheckpoint(machine.encoded()))
                scored = 0
            }
            try await output.send(out)
        }
        if checkpoints, scored > 0 { try await output.send([.detectorCheckpoint(machine.encoded())]) }
    }
}
