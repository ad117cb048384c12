import SluiceModel

/// What the stages have counted so far: the source of the run's `summary` record (and, for
/// `serve`, of the self-metrics). Stages add their counts once per batch, not per record.
public final class PipelineCounters: Sendable {
    private let state = Watched(RunSummary())

    public init() {}

    /// A consistent copy of every counter.
    public var snapshot: RunSummary { state.value }

    public func update(_ body: (inout RunSummary) -> Void) {
        state.update { body(&$0) }
    }

    /// Adds to a named counter (`token_duplicates`, `udp_dropped`, …).
    public func add(_ name: String, _ n: UInt64) {
        guard n > 0 else { return }
        state.update { $0.counters[name, default: 0] += n }
    }

    /// Waits until the counters meet `condition` (tests wait for records to get through).
    public func wait(until condition: @escaping @Sendable (RunSummary) -> Bool) async {
        await state.wait(until: condition)
    }
}
