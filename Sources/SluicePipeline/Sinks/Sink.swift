import SluiceModel

/// Where output records go: stdout, a file, the SSE stream, the dashboard.
///
/// Adding a sink is one type conforming to this protocol. `write` may suspend: a slow sink
/// holds up the pipeline (back-pressure) unless the sink itself chooses to shed load, in which
/// case it must count what it sheds.
public protocol Sink: Sendable {
    /// Takes a batch of records, in output order.
    func write(_ records: [OutputRecord]) async throws
    /// The run is over: flush and release.
    func finish() async throws
}
