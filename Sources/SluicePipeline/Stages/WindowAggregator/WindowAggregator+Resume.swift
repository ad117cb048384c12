import SluiceModel

extension WindowAggregator.StateMachine {
    /// The machine's state, whole: resuming from it (after `encoded()` and `init(decoding:)`
    /// or not) and feeding the rest of the input gives the output an uninterrupted run gives.
    public func checkpoint() -> WindowCheckpoint {
        // Only the series the open panes use, renumbered in registry order.
        var used = [Bool](repeating: false, count: registry.count)
        for state in lengths {
            for (_, pane) in state.open {
                for id in pane.metrics.keys { used[Int(id)] = true }
            }
        }
        var number = [Int32](repeating: -1, count: registry.count)
        var keys: [SeriesKey] = []
        for id in used.indices where used[id] {
            number[id] = Int32(keys.count)
            keys.append(registry.keys[id])
        }
        let open = lengths.map { state in
            state.open.map { window in
                var pane = window.pane
                pane.metrics = SeriesTable()
                pane.metrics.reserveCapacity(window.pane.metrics.count)
                for (id, acc) in window.pane.metrics { pane.metrics[number[Int(id)]] = acc }
                return (start: window.start, pane: pane)
            }
        }
        return WindowCheckpoint(
            configuration: configuration, watermark: watermark, maxEventTime: maxEventTime, late: late,
            lateByWindow: lateByWindow, seriesKeys: keys, openWindows: open, position: position)
    }

    /// A machine in the state `checkpoint` holds, with `configuration`'s lateness.
    ///
    /// Throws when the window lengths differ: the checkpoint's open windows cannot become
    /// windows of other lengths. Flush them instead with a machine built from
    /// `checkpoint.configuration` (resume, then `inputFinished`).
    public init(configuration: WindowAggregator.Configuration, resuming checkpoint: WindowCheckpoint) throws(CheckpointError) {
        guard checkpoint.configuration.windows == configuration.windows else {
            throw .windowsDiffer(checkpoint: checkpoint.configuration.windows, configuration: configuration.windows)
        }
        self.init(configuration: configuration)
        // Unique keys (the registry's, or checked when decoded), so each gets its position.
        for key in checkpoint.seriesKeys { _ = registry.insert(key) }
        for i in lengths.indices { lengths[i].open = checkpoint.openWindows[i] }
        watermark = checkpoint.watermark
        maxEventTime = checkpoint.maxEventTime
        late = checkpoint.late
        lateByWindow = checkpoint.lateByWindow
        position = checkpoint.position
    }

    /// The start of the earliest window that has not fired, open or not yet opened: after a
    /// resume, every window record stored from this instant on may overlap the machine's
    /// state, so they are what `skipStored` needs. `nil` before the first record.
    public var earliestOpenWindowStart: Timestamp? {
        Self.earliestUnfiredStart(lengths: lengths.map(\.length), watermark: watermark, openStarts: lengths.compactMap { $0.open.first?.start })
    }

    static func earliestUnfiredStart(lengths: [Int64], watermark: Int64, openStarts: [Int64]) -> Timestamp? {
        var earliest = openStarts.min()
        if watermark != .min {
            for length in lengths {
                // The window holding the watermark instant ends after it: it has not fired.
                let (start, overflow) = floorDiv(watermark, length).multipliedReportingOverflow(by: length)
                let candidate = overflow ? Int64.min : start
                earliest = Swift.min(earliest ?? candidate, candidate)
            }
        }
        return earliest.map { Timestamp(microseconds: $0) }
    }

    /// After a resume from a checkpoint older than the crash: skips what the store already
    /// holds, so that no (series, window) is stored twice.
    ///
    /// `stored` should be every window record (`window`, `cache_window`, `visits_window`) the
    /// store holds from `earliestOpenWindowStart` on; other records are ignored. Each one's
    /// entry (metric series, cache, or site) leaves its open window, and the watermark moves to
    /// the latest end among them: those windows had closed before the crash, so what else they
    /// hold fires now, into `events`, and records for them are late from here on.
    public mutating func skipStored(_ stored: [OutputRecord], into events: inout [StageEvent]) {
        var latestEnd = Int64.min
        for record in stored {
            let span: WindowSpan
            switch record {
            case .window(let w): span = w.span
            case .cacheWindow(let w): span = w.span
            case .visitsWindow(let w): span = w.span
            default: continue
            }
            guard let i = lengths.firstIndex(where: { $0.length == span.length.microseconds }) else { continue }
            let start = span.start.microseconds
            let (end, overflow) = start.addingReportingOverflow(lengths[i].length)
            guard !overflow else { continue }
            latestEnd = Swift.max(latestEnd, end)
            guard let j = lengths[i].open.firstIndex(where: { $0.start == start }) else { continue }
            switch record {
            case .window(let w):
                if let id = registry.lookup(w.series) { lengths[i].open[j].pane.metrics[id] = nil }
            case .cacheWindow(let w):
                lengths[i].open[j].pane.caches[CacheKey(tenantID: w.tenantID, cache: w.cache, labels: w.labels)] = nil
            case .visitsWindow(let w):
                lengths[i].open[j].pane.visits[w.tenantID] = nil
            default:
                break
            }
        }
        advance(to: latestEnd, into: &events)
    }
}
