import SluiceModel

/// Interns series keys as small integers, so a pane keys its accumulators by an `Int32` and a
/// record's key is hashed once however many window lengths it feeds.
public struct SeriesRegistry: Sendable {
    private var ids: [SeriesKey: Int32] = [:]
    public private(set) var keys: [SeriesKey] = []

    public init() {}

    
    public mutating func id(for key: SeriesKey) -> Int32 {
        if let id = lookup(key) { return id }
        return insert(key)
    }

    @usableFromInline
    func lookup(_ key: SeriesKey) -> Int32? { ids[key] }

    @usableFromInline
    mutating func insert(_ key: SeriesKey) -> Int32 {
        let id = Int32(keys.count)
        keys.append(key)
        ids[key] = id
        return id
    }

    public var count: Int { keys.count }
}

/// Everything one window (or one rolling pane) has accumulated, by series.
public struct Pane: Sendable {
    public var metrics: [Int32: MetricAccumulator] = [:]
    public var caches: [CacheKey: CacheAccumulator] = [:]
    public var visits: [String?: VisitAccumulator] = [:]

    public init() {}

    public var isEmpty: Bool { metrics.isEmpty && caches.isEmpty && visits.isEmpty }

    
    public mutating func addMetric(_ id: Int32, _ value: Double) {
        metrics[id, default: MetricAccumulator()].add(value)
    }

    public mutating func addDistribution(_ id: Int32, _ distribution: Distribution) {
        metrics[id, default: MetricAccumulator()].add(distribution)
    }

    public mutating func addCache(_ key: CacheKey, _ record: CacheRecord) {
        caches[key, default: CacheAccumulator()].add(record)
    }

    public mutating func addVisit(_ record: VisitRecord) {
        visits[record.tenantID, default: VisitAccumulator()].add(record)
    }

    /// Adds another pane's accumulators (rolling windows merge panes).
    public mutating func merge(_ other: Pane) {
        for (id, acc) in other.metrics { metrics[id, default: MetricAccumulator()].merge(acc) }
        for (key, acc) in other.caches { caches[key, default: CacheAccumulator()].merge(acc) }
        for (tenant, acc) in other.visits { visits[tenant, default: VisitAccumulator()].merge(acc) }
    }

    /// The pane's output records in design §3's order within one window: tenant, then series
    /// name, then labels (and `window`, `cache_window`, `visits_window` for equal keys).
    public func summaries(span: WindowSpan, registry: SeriesRegistry) -> [OutputRecord] {
        var keyed: [(SeriesKey, Int, OutputRecord)] = []
        keyed.reserveCapacity(metrics.count + caches.count + visits.count)
        for (id, acc) in metrics {
            let key = registry.keys[Int(id)]
            keyed.append((key, 0, .window(acc.summary(span: span, series: key))))
        }
        for (key, acc) in caches {
            // An unnamed cache and one named "" share a series key: unnamed first, so that the
            // order never depends on the dictionary's.
            keyed.append((key.seriesKey, key.cache == nil ? 1 : 2, .cacheWindow(acc.summary(span: span, key: key))))
        }
        for (tenant, acc) in visits {
            keyed.append((SeriesKey(tenantID: tenant, name: ""), 3, .visitsWindow(acc.summary(span: span, tenantID: tenant))))
        }
        keyed.sort { l, r in l.0 != r.0 ? l.0 < r.0 : l.1 < r.1 }
        return keyed.map(\.2)
    }
}
