import SluiceModel

/// How far the main line has got: records through the window aggregator, and the windows it
/// closed against those that reached the sinks. A query that must see what was just posted
/// waits on it (`?settle=`) instead of guessing how long the stages take.
///
/// Channels are first in, first out and no stage drops a window, so once the sinks have
/// written as many windows as the aggregator had closed when it finished a record, every
/// window that record closed is in the sinks.
public struct PipelineProgress: Sendable, Hashable {
    /// Records the aggregator has taken into its open windows (or counted late).
    public var recordsAggregated: UInt64 = 0
    /// `window`, `cache_window` and `visits_window` records the aggregator has emitted.
    public var windowsClosed: UInt64 = 0
    /// Such records the sink stage has handed to every sink.
    public var windowsDelivered: UInt64 = 0

    public init() {}

    /// The records of `events` that the aggregator produces: the closed windows.
    static func windows(in records: some Sequence<OutputRecord>) -> UInt64 {
        var n: UInt64 = 0
        for record in records {
            switch record {
            case .window, .cacheWindow, .visitsWindow: n += 1
            default: continue
            }
        }
        return n
    }
}

extension Watched where Value == PipelineProgress {
    /// Returns once the aggregator has taken `records` records in all and every window closed
    /// by then has reached the sinks: what a query waits for to see those records.
    public func settled(through records: UInt64) async {
        await wait { $0.recordsAggregated >= records }
        // The windows closed by then, by these records or by later ones.
        let closed = value.windowsClosed
        await wait { $0.windowsDelivered >= closed }
    }
}
