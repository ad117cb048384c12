import SluiceModel

/// Where the token meter keeps its state across restarts (`--data-dir`).
public protocol TokenMeterPersistence: Sendable {
    func load() throws -> TokenMeter.StateMachine.State?
    func save(_ state: TokenMeter.StateMachine.State) throws
    /// The raw `token_usage` records stored with event time `since` or later (all when `nil`),
    /// in a deterministic order, to rebuild what the last checkpoint missed.
    func storedRecords(since: Int64?) throws -> [TokenUsageRecord]
}

/// The token-usage meter stage: meters `token_usage` records per tenant × model × day and
/// month, prices them, deduplicates by request id and raises budget alerts and burn-rate
/// forecasts in place.
///
/// An actor because the server reads live usage while the pipeline runs; between batches
/// (the only suspension points) its state is consistent.
public actor TokenMeter: EventStage {
    /// Prices and budgets, readable without waiting for the actor.
    public nonisolated let configuration: Configuration
    private var machine: StateMachine
    private let persistence: (any TokenMeterPersistence)?
    private let counters: PipelineCounters
    private let report: @Sendable (String) -> Void
    /// Checkpoint at least every this many counted records (and before every alert).
    private let checkpointEvery: Int
    private var sinceCheckpoint = 0
    /// The last checkpoint failed: try again with every batch until one is written.
    private var checkpointFailed = false
    /// Alerts raised while rebuilding from the store at start, sent before anything else.
    private var pending: [StageEvent] = []
    /// Records the rebuild at start counted (`token_recovered` in this run's summary).
    private var recovered: UInt64 = 0

    public init(
        configuration: Configuration, persistence: (any TokenMeterPersistence)? = nil, counters: PipelineCounters,
        checkpointEvery: Int = 10_000, report: @escaping @Sendable (String) -> Void
    ) throws {
        self.configuration = configuration
        var machine = StateMachine(configuration: configuration, restoring: try persistence?.load())
        if let persistence {
            let before = machine.state.counters["token_recovered"] ?? 0
            pending = machine.recover(try persistence.storedRecords(since: machine.oldestCountable))
            recovered = (machine.state.counters["token_recovered"] ?? 0) - before
            if recovered > 0 {
                report("token meter: \(recovered) stored token_usage records were not in its checkpoint and are now counted")
            }
        }
        self.machine = machine
        self.persistence = persistence
        self.counters = counters
        self.checkpointEvery = checkpointEvery
        self.report = report
    }

    /// Meters `input` until it ends, passing every event on with its alerts in place; then
    /// closes the open periods and checkpoints.
    public func run(input: BoundedChannel<[StageEvent]>, output: BoundedChannel<[StageEvent]>) async throws {
        if recovered > 0 { counters.add("token_recovered", recovered) }
        if recovered > 0 || !pending.isEmpty {
            checkpoint()
            if !pending.isEmpty { try await output.send(pending) }
            pending = []
        }
        for await events in input {
            let before = machine.state.counters
            var out: [StageEvent] = []
            out.reserveCapacity(events.count)
            var alerted = false
            for event in events {
                switch event {
                case .tokenUsage(let r):
                    let count = out.count
                    switch machine.record(r, into: &out) {
                    case .counted: sinceCheckpoint += 1
                    case .duplicate: break
                    case .conflict(let message): report("token_usage conflict: \(message)")
                    case .tooOld:
                        report("token_usage request \(r.requestID) of tenant \(r.tenantID) at \(r.timestamp) is older than the dedupe window behind the newest records; not counted (it cannot be checked for duplicates)")
                    }
                    alerted = alerted || out.count > count
                case .watermark(let t):
                    out.append(event)
                    machine.advance(to: t.microseconds, into: &out)
                case .output, .detectorCheckpoint:
                    out.append(event)
                }
            }
            addCounters(since: before)
            // An alert is remembered on disk before anyone sees it: after a crash and a replay
            // of the same input it is not raised again.
            if alerted || checkpointFailed || sinceCheckpoint >= checkpointEvery { checkpoint() }
            try await output.send(out)
        }
        var out: [StageEvent] = []
        machine.inputFinished(into: &out)
        checkpoint()
        if !out.isEmpty { try await output.send(out) }
    }

    /// A checkpoint that cannot be written (a full disk) is reported and tried again with the
    /// next batch: the stored raw records rebuild anything it misses at the next start.
    private func checkpoint() {
        guard let persistence else { return }
        do {
            try persistence.save(machine.state)
            sinceCheckpoint = 0
            if checkpointFailed { report("token meter checkpoint written again") }
            checkpointFailed = false
        } catch {
            if !checkpointFailed { report("token meter checkpoint not written (\(error)); trying again with every batch until it is") }
            checkpointFailed = true
        }
    }

    private func addCounters(since before: [String: UInt64]) {
        for (name, n) in machine.state.counters where n != before[name] { counters.add(name, n - (before[name] ?? 0)) }
    }

    /// Usage of the open (current) periods: per tenant, model and period, with cost in
    /// micro-dollars (`nil` when the model has no price).
    public func usage(tenantID: String? = nil) -> [TokenUsageSummary] {
        let open = machine.state.days.merging(machine.state.months) { a, _ in a }
        return open.filter { tenantID == nil || $0.key.tenantID == tenantID }
            .sorted { $0.key < $1.key }
            .map { machine.summary($0.key, $0.value) }
    }

    /// Where each budgeted tenant's usage is heading: for every threshold of its budget (tokens
    /// and dollars) not yet crossed this month, when the burn rate over the last
    /// `forecast_window` of its records reaches it, if before the month ends. By tenant,
    /// threshold, then tokens before dollars; empty with the forecast off.
    public func forecasts(tenantID: String? = nil) -> [BudgetForecast] {
        machine.forecasts(tenantID: tenantID)
    }

}
