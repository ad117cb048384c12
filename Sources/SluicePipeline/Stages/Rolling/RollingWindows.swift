import SluiceModel

/// Rolling aggregates over the last spans of event time (1, 5 and 15 minutes unless told
/// otherwise), per series, built by merging one-second tumbling panes (sketches merge exactly,
/// so a rolling p99 is as good as one computed over the raw samples).
///
/// Pure state: `record(_:)` adds, `snapshot()` merges. The spans end at the newest event
/// second seen; panes older than the longest span are dropped, so memory is bounded by one
/// pane per second of the longest span, of the series active in them. With a lateness, a
/// record more than that behind the newest record is counted as late and not added.
public struct RollingWindows: Sendable {
    /// The spans shown when none are chosen (`tail`, dashboard).
    public static let defaultHorizons: [WindowDuration] = [.minutes(1), .minutes(5), .minutes(15)]
    static let paneMicros: Int64 = 1_000_000

    /// The spans shown, shortest first; each a whole number of seconds.
    public let horizons: [WindowDuration]
    /// How far behind the newest record a record may be and still count; `nil`: any record
    /// inside the longest span counts.
    public let lateness: WindowDuration?
    public private(set) var registry = SeriesRegistry()
    /// Panes by their start second, newest last.
    private var panes: [(second: Int64, pane: Pane)] = []
    private var newestSecond = Int64.min
    private var newest = Int64.min
    /// Records older than the longest span when they arrived (not shown).
    public private(set) var tooOld: UInt64 = 0
    /// Records more than `lateness` behind the newest record when they arrived (not added).
    public private(set) var late: UInt64 = 0
    public private(set) var records: UInt64 = 0

    /// Rolling windows over `horizons` (whole seconds; sorted and deduplicated here).
    public init(horizons: [WindowDuration] = RollingWindows.defaultHorizons, lateness: WindowDuration? = nil) {
        precondition(!horizons.isEmpty && horizons.allSatisfy { Self.isWholeSeconds($0) }, "rolling spans are whole seconds")
        self.horizons = Array(Set(horizons)).sorted { $0.microseconds < $1.microseconds }
        self.lateness = lateness
    }

    /// Whether `span` can be a rolling span: a positive whole number of seconds (the panes').
    public static func isWholeSeconds(_ span: WindowDuration) -> Bool {
        span.microseconds > 0 && span.microseconds % paneMicros == 0
    }

    public mutating func record(_ record: Record) {
        let micros = record.timestamp.microseconds
        if let lateness, newest != .min, micros < newest - lateness.microseconds {
            late += 1
            return
        }
        newest = max(newest, micros)
        let second = floorDiv(micros, Self.paneMicros)
        let horizon = horizons.last!.microseconds / Self.paneMicros
        if newestSecond != .min, second <= newestSecond - horizon {
            tooOld += 1
            return
        }
        records += 1
        let i = paneIndex(second)
        switch record {
        case .metric(let m):
            let id = registry.id(for: SeriesKey(tenantID: m.tenantID, name: m.name, labels: m.labels))
            if let d = m.distribution { panes[i].pane.addDistribution(id, d) } else { panes[i].pane.addMetric(id, m.value) }
        case .performance(let p):
            for (name, value) in [("db_query_time", p.dbQueryTime), ("memory_usage", p.memoryUsage), ("response_time", p.responseTime)] {
                guard let value else { continue }
                panes[i].pane.addMetric(registry.id(for: SeriesKey(tenantID: p.tenantID, name: name, labels: p.labels)), value)
            }
        case .cache(let c):
            panes[i].pane.addCache(CacheKey(tenantID: c.tenantID, cache: c.cache, labels: c.labels), c)
        case .visit(let v):
            panes[i].pane.addVisit(v)
        case .tokenUsage:
            break
        }
        if second > newestSecond {
            newestSecond = second
            let cutoff = second - horizon
            let expired = panes.prefix { $0.second <= cutoff }.count
            if expired > 0 { panes.removeFirst(expired) }
        }
    }

    private mutating func paneIndex(_ second: Int64) -> Int {
        var j = panes.count
        if j > 0, panes[j - 1].second == second { return j - 1 }
        while j > 0, panes[j - 1].second > second { j -= 1 }
        if j > 0, panes[j - 1].second == second { return j - 1 }
        panes.insert((second, Pane()), at: j)
        return j
    }

    /// Every horizon's aggregates, merging panes newest to oldest in one pass.
    public func snapshot() -> RollingSnapshot {
        guard newestSecond != .min else {
            return RollingSnapshot(end: nil, horizons: [], registry: registry, records: records, tooOld: tooOld, late: late, lateness: lateness)
        }
        var merged = Pane()
        var results: [RollingSnapshot.Horizon] = []
        var index = panes.count - 1
        for horizon in horizons {
            let first = newestSecond - horizon.microseconds / Self.paneMicros + 1
            while index >= 0, panes[index].second >= first {
                merged.merge(panes[index].pane)
                index -= 1
            }
            results.append(RollingSnapshot.Horizon(length: horizon, pane: merged))
        }
        let end = Timestamp(microseconds: (newestSecond + 1) * Self.paneMicros)
        return RollingSnapshot(end: end, horizons: results, registry: registry, records: records, tooOld: tooOld, late: late, lateness: lateness)
    }
}

/// Rolling aggregates at one moment: per horizon, every series' merged accumulators.
public struct RollingSnapshot: Sendable {
    public struct Horizon: Sendable {
        public var length: WindowDuration
        public var pane: Pane
    }

    /// The end of every horizon (the newest event second, exclusive); `nil` before any record.
    public var end: Timestamp?
    public var horizons: [Horizon]
    public var registry: SeriesRegistry
    public var records: UInt64
    public var tooOld: UInt64
    /// Records more than `lateness` behind the newest when they arrived, not added.
    public var late: UInt64
    public var lateness: WindowDuration?

    /// The window summaries of one horizon, in output order.
    public func summaries(_ horizon: Horizon) -> [OutputRecord] {
        guard let end else { return [] }
        return horizon.pane.summaries(span: WindowSpan(length: horizon.length, start: end - horizon.length), registry: registry)
    }
}
