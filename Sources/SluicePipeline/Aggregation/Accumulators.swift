import SluiceModel

/// Exact count, sum, min and max plus a DDSketch for percentiles: one series in one pane.
public struct MetricAccumulator: Sendable {
    public internal(set) var sum = ExactSum()
    public internal(set) var sketch = DDSketch()

    public init() {}

    public var count: UInt64 { sketch.count }

    public mutating func add(_ value: Double) {
        add(value, in: DDSketch.Bin(value))
    }

    /// Adds a sample whose sketch bin is known (`DDSketch.Bin(value)`).
    @inline(__always)
    public mutating func add(_ value: Double, in bin: DDSketch.Bin) {
        sum.add(value)
        sketch.add(value, in: bin)
    }

    /// Adds the samples a histogram stands for: count and sum exactly, its buckets into the sketch.
    public mutating func add(_ distribution: Distribution) {
        sum.add(distribution.sum)
        sketch.merge(distribution.sketch)
    }

    /// Adds another pane of the same series (rolling windows).
    public mutating func merge(_ other: MetricAccumulator) {
        sum.add(other.sum)
        sketch.merge(other.sketch)
    }

    public func summary(span: WindowSpan, series: SeriesKey) -> WindowSummary {
        WindowSummary(span: span, series: series, sketch: sketch, sum: sum)
    }
}

/// A cache's key within a tenant: its name and labels.
public struct CacheKey: Sendable, Hashable {
    public var tenantID: String?
    public var cache: String?
    public var labels: Labels

    public init(tenantID: String?, cache: String?, labels: Labels) {
        self.tenantID = tenantID
        self.cache = cache
        self.labels = labels
    }

    /// Its place among a window's output (design §3): tenant, then name, then labels.
    public var seriesKey: SeriesKey { SeriesKey(tenantID: tenantID, name: cache ?? "", labels: labels) }
}

/// Summed hits and misses, and the size of the latest report.
public struct CacheAccumulator: Sendable {
    public internal(set) var hits: UInt64 = 0
    public internal(set) var misses: UInt64 = 0
    public internal(set) var sizeKB: UInt64 = 0
    /// The event time of the report `sizeKB` comes from.
    var sizeTime = Int64.min

    public init() {}

    public mutating func add(_ record: CacheRecord) {
        hits = hits.addingSaturating(record.hits)
        misses = misses.addingSaturating(record.misses)
        // The latest event time wins; among equal times, the last to arrive.
        if record.timestamp.microseconds >= sizeTime {
            sizeTime = record.timestamp.microseconds
            sizeKB = record.sizeKB
        }
    }

    public mutating func merge(_ other: CacheAccumulator) {
        hits = hits.addingSaturating(other.hits)
        misses = misses.addingSaturating(other.misses)
        if other.sizeTime >= sizeTime {
            sizeTime = other.sizeTime
            sizeKB = other.sizeKB
        }
    }

    public func summary(span: WindowSpan, key: CacheKey) -> CacheWindowSummary {
        CacheWindowSummary(span: span, tenantID: key.tenantID, cache: key.cache, labels: key.labels, hits: hits, misses: misses, sizeKB: sizeKB)
    }
}

/// Visits (exact) and distinct visitors (HyperLogLog) of one site.
public struct VisitAccumulator: Sendable {
    public internal(set) var visits: UInt64 = 0
    public internal(set) var visitors = HyperLogLog()

    public init() {}

    public mutating func add(_ record: VisitRecord) {
        visits += 1
        visitors.add(record.visitorID)
    }

    public mutating func merge(_ other: VisitAccumulator) {
        visits += other.visits
        visitors.merge(other.visitors)
    }

    public func summary(span: WindowSpan, tenantID: String?) -> VisitsWindowSummary {
        VisitsWindowSummary(span: span, tenantID: tenantID, visits: visits, visitors: visitors)
    }
}
