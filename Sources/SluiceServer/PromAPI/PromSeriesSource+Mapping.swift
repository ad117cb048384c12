import SluiceModel
import SluicePipeline
import SluiceStore

/// How records become series: names, labels and values (design §9).
extension PromSeriesSource {
    /// A series' labels: the record's own, then `tenant_id` and `window` (which win over a
    /// record label of the same name), and `__name__`.
    static func labels(_ own: Labels, name: String, tenant: String?, window: WindowDuration? = nil) -> Labels {
        var labels = own.setting("__name__", to: name)
        if let tenant { labels = labels.setting("tenant_id", to: tenant) }
        if let window { labels = labels.setting("window", to: window.description) }
        return labels
    }

    /// `cpu` for `cpu:p99`: the window series a statistic's name belongs to.
    static func windowBase(_ name: String) -> String? {
        guard let colon = name.lastIndex(of: ":"), statistics.contains(String(name[name.index(after: colon)...])) else { return nil }
        return String(name[..<colon])
    }

    /// Each statistic of a window with its value.
    static func statisticValues(_ w: WindowSummary) -> [(String, Double)] {
        [("count", Double(w.count)), ("sum", w.sum), ("min", w.min), ("max", w.max), ("mean", w.mean),
         ("p50", w.p50), ("p90", w.p90), ("p95", w.p95), ("p99", w.p99)]
    }

    /// A window's sketch, when it kept one.
    static func sketch(of w: WindowSummary) -> DDSketch? { nil }

    /// The samples a cache or visits window gives, at its end.
    static func samples(of record: OutputRecord) -> [(Labels, PromQL.Sample)] {
        switch record {
        case .cacheWindow(let c):
            let own = c.cache.map { c.labels.setting("cache", to: $0) } ?? c.labels
            var values: [(String, Double)] = [("cache_hits", Double(c.hits)), ("cache_misses", Double(c.misses)), ("cache_size_kb", Double(c.sizeKB))]
            if let ratio = c.hitRatio { values.append(("cache_hit_ratio", ratio)) }
            return values.map { (labels(own, name: $0.0, tenant: c.tenantID, window: c.span.length), PromQL.Sample(time: c.span.end.microseconds, value: $0.1)) }
        case .visitsWindow(let v):
            return [("visits", Double(v.visits)), ("unique_visitors", Double(v.uniqueVisitors))].map {
                (labels(.empty, name: $0.0, tenant: v.tenantID, window: v.span.length), PromQL.Sample(time: v.span.end.microseconds, value: $0.1))
            }
        default:
            return []
        }
    }

    /// Cache and visits windows that start in `[from, to)`: stored (parts combined), closed
    /// but not stored yet, and still open, each window once.
    func otherWindows(_ kinds: Set<StoredRecord.Kind>, tenant: String?, from: Timestamp?, to: Timestamp?) async throws -> [OutputRecord] {
        func wanted(_ r: OutputRecord) -> Bool {
            guard tenant == nil || r.tenantID == tenant else { return false }
            let start: Timestamp
            switch r {
            case .cacheWindow(let c) where kinds.contains(.cacheWindow): start = c.span.start
            case .visitsWindow(let v) where kinds.contains(.visitsWindow): start = v.span.start
            default: return false
            }
            return (from.map { start >= $0 } ?? true) && (to.map { start < $0 } ?? true)
        }
        var byIdentity: [WindowIdentity: OutputRecord] = [:]
        var order: [WindowIdentity] = []
        func add(_ r: OutputRecord) {
            guard wanted(r), let id = r.windowIdentity, byIdentity[id] == nil else { return }
            byIdentity[id] = r
            order.append(id)
        }
        for case .output(let o) in try await state.storedRecords(StoreQuery(kinds: kinds, tenantID: tenant, from: from, to: to), combined: true) { add(o) }
        let recent = state.dashboard.snapshot(tenant: tenant)
        for c in recent.caches.values.joined() { add(.cacheWindow(c)) }
        for v in recent.visits.values.joined() { add(.visitsWindow(v)) }
        let live = await state.pipeline.live.openSummaries(nudge: { _ = state.pipeline.input.trySend(RecordBatch(records: [])) })
        for r in live { add(r) }
        return order.map { byIdentity[$0]! }
    }
}
