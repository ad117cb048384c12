/// One valid input record (design §2), with its event time resolved.
///
/// An enum of five value types rather than one loose struct, so that a stage can only read the
/// fields its record type really has.
public enum Record: Sendable, Hashable {
    case metric(MetricRecord)
    case cache(CacheRecord)
    case performance(PerformanceRecord)
    case tokenUsage(TokenUsageRecord)
    case visit(VisitRecord)

    /// The event time that places the record in windows.
    @inlinable
    public var timestamp: Timestamp {
        switch self {
        case .metric(let r): r.timestamp
        case .cache(let r): r.timestamp
        case .performance(let r): r.timestamp
        case .tokenUsage(let r): r.timestamp
        case .visit(let r): r.timestamp
        }
    }

    /// The tenant, or `nil` for platform-wide records.
    public var tenantID: String? {
        switch self {
        case .metric(let r): r.tenantID
        case .cache(let r): r.tenantID
        case .performance(let r): r.tenantID
        case .tokenUsage(let r): r.tenantID
        case .visit(let r): r.tenantID
        }
    }

    /// The record type as the `type` field spells it.
    public var kind: RecordKind {
        switch self {
        case .metric: .metric
        case .cache: .cache
        case .performance: .performance
        case .tokenUsage: .tokenUsage
        case .visit: .visit
        }
    }
}

/// The `type` field's values.
public enum RecordKind: String, Sendable, Hashable, CaseIterable, Comparable {
    case metric
    case cache
    case performance
    case tokenUsage = "token_usage"
    case visit

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// `{"type":"metric","metric_name":…,"value":…}`
public struct MetricRecord: Sendable, Hashable {
    public var timestamp: Timestamp
    public var tenantID: String?
    public var labels: Labels
    public var name: String
    /// The sample; for a distribution, its mean (what a reader of raw records sees).
    public var value: Double
    /// Set when the record stands for many samples at once (an OTLP histogram point): the
    /// window takes the distribution's count, sum, extremes and sketch instead of `value`.
    public var distribution: Distribution? {
        get { boxedDistribution?.value }
        set { boxedDistribution = newValue.map(DistributionBox.init) }
    }
    /// Whether it carries a distribution, asked without copying it out (which `distribution`
    /// does, and with it, retains the record's box).
    @inlinable
    public var hasDistribution: Bool { boxedDistribution != nil }
    /// Held by reference: few records carry one, and inline it would make every record (and
    /// every copy of one between the decoder and the window) twice as large.
    @usableFromInline
    private(set) var boxedDistribution: DistributionBox?

    public init(timestamp: Timestamp, tenantID: String? = nil, labels: Labels = .empty, name: String, value: Double) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.labels = labels
        self.name = name
        self.value = value
    }

    /// A record of many samples summarised by a histogram.
    public init(timestamp: Timestamp, tenantID: String? = nil, labels: Labels = .empty, name: String, distribution: Distribution) {
        self.init(timestamp: timestamp, tenantID: tenantID, labels: labels, name: name,
                  value: distribution.count > 0 ? distribution.sum / Double(distribution.count) : 0)
        self.distribution = distribution
    }
}

/// Samples known only through a histogram: their count and sum exactly, and a sketch whose
/// bins hold the buckets. `sketch.min` and `sketch.max` are exact when the histogram carried
/// them, else the bounds of the outermost buckets that held samples.
/// A `Distribution` behind a reference, compared and hashed by value.
@usableFromInline
final class DistributionBox: Sendable, Hashable {
    let value: Distribution
    init(_ value: Distribution) { self.value = value }
    @usableFromInline
    static func == (lhs: DistributionBox, rhs: DistributionBox) -> Bool { lhs === rhs || lhs.value == rhs.value }
    @usableFromInline
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

public struct Distribution: Sendable, Hashable {
    public var sketch: DDSketch
    public var sum: Double
    /// The largest relative error of a percentile drawn from these buckets, beyond the sketch's
    /// own: how far a bucket's representative value can be from a sample in it.
    public var bucketError: Double

    public init(sketch: DDSketch, sum: Double, bucketError: Double) {
        self.sketch = sketch
        self.sum = sum
        self.bucketError = bucketError
    }

    public var count: UInt64 { sketch.count }
}

/// `{"type":"cache","hits":…,"misses":…,"size_kb":…,"cache":…}`: counts for the interval since
/// the cache's previous report.
public struct CacheRecord: Sendable, Hashable {
    public var timestamp: Timestamp
    public var tenantID: String?
    public var labels: Labels
    public var cache: String?
    public var hits: UInt64
    public var misses: UInt64
    public var sizeKB: UInt64

    public init(
        timestamp: Timestamp, tenantID: String? = nil, labels: Labels = .empty, cache: String? = nil,
        hits: UInt64, misses: UInt64, sizeKB: UInt64
    ) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.labels = labels
        self.cache = cache
        self.hits = hits
        self.misses = misses
        self.sizeKB = sizeKB
    }
}

/// `{"type":"performance","response_time":…,"db_query_time":…,"memory_usage":…,"route":…}`;
/// at least one of the three measurements is present.
public struct PerformanceRecord: Sendable, Hashable {
    public var timestamp: Timestamp
    public var tenantID: String?
    /// The record's labels with `route` merged in.
    public var labels: Labels
    public var responseTime: Double?
    public var dbQueryTime: Double?
    public var memoryUsage: Double?

    public init(
        timestamp: Timestamp, tenantID: String? = nil, labels: Labels = .empty,
        responseTime: Double? = nil, dbQueryTime: Double? = nil, memoryUsage: Double? = nil
    ) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.labels = labels
        self.responseTime = responseTime
        self.dbQueryTime = dbQueryTime
        self.memoryUsage = memoryUsage
    }

    /// The series names a performance record feeds, in output order.
    public static let seriesNames = ["db_query_time", "memory_usage", "response_time"]
}

/// `{"type":"token_usage","tenant_id":…,"model":…,"prompt_tokens":…,"completion_tokens":…,"request_id":…}`
public struct TokenUsageRecord: Sendable, Hashable {
    public var timestamp: Timestamp
    public var tenantID: String
    public var labels: Labels
    public var model: String
    public var promptTokens: UInt64
    public var completionTokens: UInt64
    public var cachedTokens: UInt64
    public var requestID: String

    public init(
        timestamp: Timestamp, tenantID: String, labels: Labels = .empty, model: String,
        promptTokens: UInt64, completionTokens: UInt64, cachedTokens: UInt64 = 0, requestID: String
    ) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.labels = labels
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.requestID = requestID
    }
}

/// `{"type":"visit","visitor_id":…,"path":…}`: the tenant is the site.
public struct VisitRecord: Sendable, Hashable {
    public var timestamp: Timestamp
    public var tenantID: String?
    public var labels: Labels
    public var visitorID: String
    public var path: String?

    public init(timestamp: Timestamp, tenantID: String? = nil, labels: Labels = .empty, visitorID: String, path: String? = nil) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.labels = labels
        self.visitorID = visitorID
        self.path = path
    }
}
