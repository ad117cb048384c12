import SluiceModel

/// Interns series keys as small integers, so a pane keys its accumulators by an `Int32` and a
/// record's key is hashed once however many window lengths it feeds.
public struct SeriesRegistry: Sendable {
    private var ids: [SeriesKey: Int32] = [:]
    public private(set) var keys: [SeriesKey] = []
    /// Finds the series of records that share interned labels without hashing them.
    private var recent = SeriesLookupCache<Int32>()

    public init() {}

    public mutating func id(for key: SeriesKey) -> Int32 {
        id(tenantID: key.tenantID, name: key.name, labels: key.labels)
    }

    /// The number of the series (tenant, name, labels), given on first sight.
    public mutating func id(tenantID: String?, name: String, labels: Labels) -> Int32 {
        let (probe, cached) = recent.find(tenantID: tenantID, name: name, labels: labels)
        if let cached { return cached }
        let key = SeriesKey(tenantID: tenantID, name: name, labels: labels)
        let id = lookup(key) ?? insert(key)
        recent.fill(probe, tenantID: tenantID, name: name, labels: labels, value: id)
        return id
    }

    /// The number of a series whose records share storage with one seen lately (no hashing),
    /// or `nil`, which `id` answers.
    public func knownID(tenantID: String?, name: String, labels: Labels) -> Int32? {
        recent.find(tenantID: tenantID, name: name, labels: labels).value
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
    public var metrics = SeriesTable<MetricAccumulator>()
    public var caches: [CacheKey: CacheAccumulator] = [:]
    public var visits: [String?: VisitAccumulator] = [:]

    public init() {}

    public var isEmpty: Bool { metrics.isEmpty && caches.isEmpty && visits.isEmpty }

    
    public mutating func addMetric(_ id: Int32, _ value: Double) {
        metrics[id, default: MetricAccumulator()].add(value)
    }

    /// Adds a sample whose sketch bin is known (`DDSketch.Bin(value)`).
    @inline(__always)
    mutating func addMetric(_ id: Int32, _ value: Double, in bin: DDSketch.Bin) {
        metrics[id, default: MetricAccumulator()].add(value, in: bin)
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
    ///
    /// The order is found on small references (kind and position), and each record is made
    /// once, in place: a window of a million series holds its records once, not three times.
    public func summaries(span: WindowSpan, registry: SeriesRegistry) -> [OutputRecord] {
        var out: [OutputRecord] = []
        forEachSummary(span: span, registry: registry, reserve: { out.reserveCapacity($0) }) { out.append($0) }
        return out
    }

    /// The same records as events, appended where a firing window puts them.
    public func appendSummaries(span: WindowSpan, registry: SeriesRegistry, to events: inout [StageEvent]) {
        // No exact reserve here: windows fire one after another into the same array, and
        // growing it geometrically keeps that linear.
        forEachSummary(span: span, registry: registry, reserve: { _ in }) { events.append(.output($0)) }
    }

    private func forEachSummary(span: WindowSpan, registry: SeriesRegistry, reserve: (Int) -> Void, _ body: (OutputRecord) -> Void) {
        let cacheEntries = Array(caches)
        let visitEntries = Array(visits)
        // (kind, index): kind 0 a metric's series id, 1 and 2 an unnamed and a named cache,
        // 3 a site's visits; an unnamed cache and one named "" share a series key, unnamed
        // first, so the order never depends on a dictionary's.
        var order: [(kind: Int32, index: Int32)] = []
        order.reserveCapacity(metrics.count + caches.count + visits.count)
        for id in metrics.keys { order.append((0, id)) }
        for (i, entry) in cacheEntries.enumerated() { order.append((entry.key.cache == nil ? 1 : 2, Int32(i))) }
        for i in visitEntries.indices { order.append((3, Int32(i))) }
        func key(_ entry: (kind: Int32, index: Int32)) -> SeriesKey {
            switch entry.kind {
            case 0: registry.keys[Int(entry.index)]
            case 1, 2: cacheEntries[Int(entry.index)].key.seriesKey
            default: SeriesKey(tenantID: visitEntries[Int(entry.index)].key, name: "")
            }
        }
        order.sort { l, r in
            if l.kind == 0 && r.kind == 0 { return registry.keys[Int(l.index)] < registry.keys[Int(r.index)] }
            let (lk, rk) = (key(l), key(r))
            return lk != rk ? lk < rk : l.kind < r.kind
        }
        reserve(order.count)
        for entry in order {
            switch entry.kind {
            case 0:
                body(.window(metrics[entry.index]!.summary(span: span, series: registry.keys[Int(entry.index)])))
            case 1, 2:
                let (k, acc) = cacheEntries[Int(entry.index)]
                body(.cacheWindow(acc.summary(span: span, key: k)))
            default:
                let (tenant, acc) = visitEntries[Int(entry.index)]
                body(.visitsWindow(acc.summary(span: span, tenantID: tenant)))
            }
        }
    }
}
