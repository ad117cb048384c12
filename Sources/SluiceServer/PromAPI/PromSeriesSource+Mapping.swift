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

    /// Cache windows as `WindowQuery` finds windows: stored, closed but not stored yet, and
    /// still open, the parts of one window combined.
    func cacheWindows(_ filter: WindowQuery.Filter) async throws -> [CacheWindowSummary] {
        struct Key: Hashable { var tenant: String?; var cache: String?; var labels: Labels; var span: WindowSpan }
        func key(_ c: CacheWindowSummary) -> Key { Key(tenant: c.tenantID, cache: c.cache, labels: c.labels, span: c.span) }
        var parts: [Key: [CacheWindowSummary]] = [:]
        let query = StoreQuery(kinds: [.cacheWindow], tenantID: filter.tenant, from: filter.from, to: filter.to)
        for case .output(.cacheWindow(let c)) in try await state.storedRecords(query) where filter.wants(span: c.span, tenant: c.tenantID) {
            parts[key(c), default: []].append(c)
        }
        for c in state.dashboard.snapshot(tenant: filter.tenant).caches.values.joined() where filter.wants(span: c.span, tenant: c.tenantID) {
            if parts[key(c)]?.contains(c) != true { parts[key(c), default: []].append(c) }
        }
        let open = await state.pipeline.live.openSummaries(nudge: { _ = state.pipeline.input.trySend(RecordBatch(records: [])) })
        for case .cacheWindow(let c) in open where filter.wants(span: c.span, tenant: c.tenantID) {
            parts[key(c), default: []].append(c)
        }
        return parts.values.map { CacheWindowSummary.combining($0) }
    }
}
