/// One window stored as several records: a restart closes the open windows at shutdown, and
/// records that arrive after it for the same window are stored again as a second part. Every
/// answer combines the parts, so no count is lost from it.
///
/// Count, sum, minimum and maximum combine exactly (the sum is the correctly rounded sum of
/// the parts). Stored windows keep no sketch yet, so percentiles come from the part with the
/// most samples, and unique visitors from the part with the most visitors (a lower bound).
extension WindowSummary {
    /// The parts of one (series, window) as one window; partial when any part is open.
    public static func combining(_ parts: [WindowSummary]) -> WindowSummary {
        precondition(!parts.isEmpty, "a window has at least one part")
        guard parts.count > 1 else { return parts[0] }
        var combined = parts.max { $0.count < $1.count }!
        var sum = ExactSum()
        for part in parts { sum.add(part.sum) }
        combined.count = parts.reduce(0) { $0 + $1.count }
        combined.sum = sum.value
        combined.min = parts.map(\.min).min()!
        combined.max = parts.map(\.max).max()!
        combined.partial = parts.contains(where: \.partial)
        return combined
    }

    /// Whether `other` holds the same samples: the same window seen twice (in the store and
    /// in recent memory), not two parts of it.
    public func sameSamples(as other: WindowSummary) -> Bool {
        count == other.count && sum == other.sum && min == other.min && max == other.max
    }
}

extension CacheWindowSummary {
    /// Hits and misses add up; the size is the later part's (the latest report).
    public static func combining(_ parts: [CacheWindowSummary]) -> CacheWindowSummary {
        precondition(!parts.isEmpty, "a window has at least one part")
        var combined = parts.last!
        combined.hits = parts.reduce(0) { $0 + $1.hits }
        combined.misses = parts.reduce(0) { $0 + $1.misses }
        return combined
    }
}

extension VisitsWindowSummary {
    /// Visits add up; unique visitors are the larger part's until windows keep their sketch.
    public static func combining(_ parts: [VisitsWindowSummary]) -> VisitsWindowSummary {
        precondition(!parts.isEmpty, "a window has at least one part")
        var combined = parts.max { $0.uniqueVisitors < $1.uniqueVisitors }!
        combined.visits = parts.reduce(0) { $0 + $1.visits }
        return combined
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
