/// Windows combine in two ways, by one rule: the parts of one window (a window stored in parts,
/// or seen both in the store and in memory), and unions of windows — across labels, routes,
/// tenants or time. Count, sum, minimum and maximum combine exactly (the sum is the correctly
/// rounded sum of the parts' sums). Percentiles and unique visitors come from the merged
/// sketches, so a union is as accurate as one window over the same samples (design §3).
///
/// Windows stored before segment format 2 kept no sketch. A union that includes one cannot
/// merge: its percentiles are the busiest part's, its unique visitors the largest part's (a
/// lower bound), and it carries no sketch, so nothing built on it claims more than it knows.
extension WindowSummary {
    /// The union of `windows` as one window of `span` and `series`; partial when any is.
    public static func merging(_ windows: some Collection<WindowSummary>, span: WindowSpan, series: SeriesKey) -> WindowSummary {
        precondition(!windows.isEmpty, "a union has at least one window")
        var union = WindowUnion()
        for w in windows { union.add(w) }
        return union.summary(span: span, series: series)
    }

    /// The parts of one (series, window) as one window; partial when any part is open.
    public static func combining(_ parts: [WindowSummary]) -> WindowSummary {
        guard parts.count > 1 else { return parts[0] }
        return merging(parts, span: parts[0].span, series: parts[0].series)
    }

    /// Whether `other` holds the same samples: the same window seen twice (in the store and
    /// in recent memory), not two parts of it.
    public func sameSamples(as other: WindowSummary) -> Bool {
        count == other.count && sum == other.sum && min == other.min && max == other.max
    }
}

/// A union of windows being built, one window at a time: what a merge holds while windows
/// stream past (a roll-up keeps one per series per step, not the windows themselves).
public struct WindowUnion: Sendable {
    var sum = ExactSum()
    var count: UInt64 = 0
    var minimum = Double.infinity
    var maximum = -Double.infinity
    var sketch: DDSketch? = DDSketch()
    /// Whether every part carried its exact sum (then `sum` is exact, not a sum of roundings).
    var exact = true
    var partial = false
    /// The part with the most samples: its percentiles stand in when a part has no sketch.
    var busiest: WindowSummary?

    public init() {}

    public var isEmpty: Bool { busiest == nil }

    public mutating func add(_ w: WindowSummary) {
        if let e = w.exactSum { sum.add(e) } else { sum.add(w.sum); exact = false }
        count = count.addingSaturating(w.count)
        minimum = Swift.min(minimum, w.min)
        maximum = Swift.max(maximum, w.max)
        if let s = w.sketch { sketch?.merge(s) } else { sketch = nil }
        partial = partial || w.partial
        if busiest.map({ w.count > $0.count }) ?? true { busiest = w }
    }

    /// The union as one window; `add` must have been called at least once.
    public func summary(span: WindowSpan, series: SeriesKey) -> WindowSummary {
        if let sketch {
            var w = WindowSummary(span: span, series: series, sketch: sketch, sum: sum, partial: partial)
            if !exact { w.exactSum = nil }
            return w
        }
        var combined = busiest!
        combined.span = span
        combined.series = series
        combined.count = count
        combined.sum = sum.value
        combined.min = minimum
        combined.max = maximum
        combined.partial = partial
        combined.sketch = nil
        combined.exactSum = nil
        return combined
    }
}

extension CacheWindowSummary {
    /// The union of `windows` as one window of `span`: hits and misses add up; the size is
    /// that of the latest window (the latest report), the later part among equal spans.
    public static func merging(_ windows: some Collection<CacheWindowSummary>, span: WindowSpan) -> CacheWindowSummary {
        precondition(!windows.isEmpty, "a union has at least one window")
        var union = CacheWindowUnion()
        for w in windows { union.add(w) }
        return union.summary(span: span)
    }

    /// The parts of one window as one.
    public static func combining(_ parts: [CacheWindowSummary]) -> CacheWindowSummary {
        guard parts.count > 1 else { return parts[0] }
        return merging(parts, span: parts[0].span)
    }
}

/// A union of cache windows being built.
public struct CacheWindowUnion: Sendable {
    var latest: CacheWindowSummary?
    var hits: UInt64 = 0
    var misses: UInt64 = 0

    public init() {}

    public mutating func add(_ w: CacheWindowSummary) {
        hits = hits.addingSaturating(w.hits)
        misses = misses.addingSaturating(w.misses)
        if latest.map({ w.span.end >= $0.span.end }) ?? true { latest = w }
    }

    public func summary(span: WindowSpan) -> CacheWindowSummary {
        var combined = latest!
        combined.span = span
        combined.hits = hits
        combined.misses = misses
        return combined
    }
}

extension VisitsWindowSummary {
    /// The union of `windows` as one window of `span` and tenant: visits add up; unique
    /// visitors are those of the merged sketch.
    public static func merging(_ windows: some Collection<VisitsWindowSummary>, span: WindowSpan, tenantID: String?) -> VisitsWindowSummary {
        precondition(!windows.isEmpty, "a union has at least one window")
        var union = VisitsWindowUnion()
        for w in windows { union.add(w) }
        return union.summary(span: span, tenantID: tenantID)
    }

    /// The parts of one window as one.
    public static func combining(_ parts: [VisitsWindowSummary]) -> VisitsWindowSummary {
        guard parts.count > 1 else { return parts[0] }
        return merging(parts, span: parts[0].span, tenantID: parts[0].tenantID)
    }
}

/// A union of visits windows being built.
public struct VisitsWindowUnion: Sendable {
    var visits: UInt64 = 0
    var visitors: HyperLogLog? = HyperLogLog()
    var largest: UInt64 = 0

    public init() {}

    public mutating func add(_ w: VisitsWindowSummary) {
        visits = visits.addingSaturating(w.visits)
        if let v = w.visitors { visitors?.merge(v) } else { visitors = nil }
        largest = Swift.max(largest, w.uniqueVisitors)
    }

    public func summary(span: WindowSpan, tenantID: String?) -> VisitsWindowSummary {
        if let visitors { return VisitsWindowSummary(span: span, tenantID: tenantID, visits: visits, visitors: visitors) }
        return VisitsWindowSummary(span: span, tenantID: tenantID, visits: visits, uniqueVisitors: largest)
    }
}

extension UInt64 {
    /// The sum, or `.max` when it would overflow: hostile counts cannot crash a union.
    @inlinable
    public func addingSaturating(_ other: UInt64) -> UInt64 {
        let (s, overflow) = addingReportingOverflow(other)
        return overflow ? .max : s
    }
}

extension OutputRecord {
    /// What identifies a window across its parts: kind, span and series; `nil` for records
    /// that are not windows.
    public var windowIdentity: WindowIdentity? {
        switch self {
        case .window(let w): WindowIdentity(kind: 0, span: w.span, tenantID: w.series.tenantID, name: w.series.name, labels: w.series.labels)
        case .cacheWindow(let c): WindowIdentity(kind: 1, span: c.span, tenantID: c.tenantID, name: c.cache ?? "", labels: c.labels)
        case .visitsWindow(let v): WindowIdentity(kind: 2, span: v.span, tenantID: v.tenantID, name: "", labels: Labels())
        default: nil
        }
    }

    /// Combines the parts of windows (same identity) into one record, each where its first
    /// part was; every other record stays as it is, in order.
    public static func combiningWindowParts(_ records: [OutputRecord]) -> [OutputRecord] {
        var parts: [WindowIdentity: [OutputRecord]] = [:]
        for r in records { if let id = r.windowIdentity { parts[id, default: []].append(r) } }
        guard parts.values.contains(where: { $0.count > 1 }) else { return records }
        var out: [OutputRecord] = []
        var done: Set<WindowIdentity> = []
        for r in records {
            guard let id = r.windowIdentity else { out.append(r); continue }
            guard done.insert(id).inserted, let all = parts[id] else { continue }
            switch r {
            case .window: out.append(.window(.combining(all.compactMap { if case .window(let w) = $0 { w } else { nil } })))
            case .cacheWindow: out.append(.cacheWindow(.combining(all.compactMap { if case .cacheWindow(let c) = $0 { c } else { nil } })))
            case .visitsWindow: out.append(.visitsWindow(.combining(all.compactMap { if case .visitsWindow(let v) = $0 { v } else { nil } })))
            default: out.append(r)
            }
        }
        return out
    }
}

/// A window's identity: its kind, span and series.
public struct WindowIdentity: Sendable, Hashable {
    var kind: UInt8
    var span: WindowSpan
    var tenantID: String?
    var name: String
    var labels: Labels
}
