/// One record Sluice emits (design §3).
public enum OutputRecord: Sendable, Hashable {
    case window(WindowSummary)
    case cacheWindow(CacheWindowSummary)
    case visitsWindow(VisitsWindowSummary)
    case anomaly(Anomaly)
    case tokenUsage(TokenUsageSummary)
    case budgetAlert(BudgetAlert)
    case budgetForecast(BudgetForecast)
    case summary(RunSummary)

    /// The `type` field's value.
    public var typeName: String {
        switch self {
        case .window: "window"
        case .cacheWindow: "cache_window"
        case .visitsWindow: "visits_window"
        case .anomaly: "anomaly"
        case .tokenUsage: "token_usage"
        case .budgetAlert: "budget_alert"
        case .budgetForecast: "budget_forecast"
        case .summary: "summary"
        }
    }

    /// The tenant the record belongs to (`nil`: platform-wide or run-wide).
    public var tenantID: String? {
        switch self {
        case .window(let w): w.series.tenantID
        case .cacheWindow(let w): w.tenantID
        case .visitsWindow(let w): w.tenantID
        case .anomaly(let a): a.series.tenantID
        case .tokenUsage(let t): t.tenantID
        case .budgetAlert(let b): b.tenantID
        case .budgetForecast(let f): f.tenantID
        case .summary: nil
        }
    }
}

/// A closed window's place in time: its length and half-open `[start, end)`.
public struct WindowSpan: Sendable, Hashable, Comparable {
    public var length: WindowDuration
    public var start: Timestamp
    public var end: Timestamp { start + length }

    public init(length: WindowDuration, start: Timestamp) {
        self.length = length
        self.start = start
    }

    /// The epoch-aligned window of `length` that holds `time`.
    @inlinable
    public init(length: WindowDuration, containing time: Timestamp) {
        let l = length.microseconds
        let t = time.microseconds
        var start = t - t % l
        if t % l < 0 { start -= l }
        self.length = length
        self.start = Timestamp(microseconds: start)
    }

    /// Design §3's order: by window end, then window length.
    public static func < (lhs: WindowSpan, rhs: WindowSpan) -> Bool {
        if lhs.end != rhs.end { return lhs.end < rhs.end }
        return lhs.length < rhs.length
    }
}

/// `{"type":"window",…}`: exact count, sum, min, max and mean, and sketched percentiles of one
/// series in one window.
public struct WindowSummary: Sendable, Hashable {
    public var span: WindowSpan
    public var series: SeriesKey
    public var count: UInt64
    public var sum: Double
    public var min: Double
    public var max: Double
    public var p50: Double
    public var p90: Double
    public var p95: Double
    public var p99: Double
    /// A window still open (only answered by live queries, never emitted by the pipeline).
    public var partial: Bool
    /// The window's samples as a mergeable sketch: what any answer combining windows merges.
    /// `nil` for windows stored before segment format 2, which kept only the percentiles.
    public var sketch: DDSketch?
    /// The sum as an exact expansion, so that sums of windows are exact too (`sum` is it
    /// rounded once). `nil` where `sketch` is.
    public var exactSum: ExactSum?

    public var mean: Double { sum / Double(count) }

    public init(
        span: WindowSpan, series: SeriesKey, count: UInt64, sum: Double, min: Double, max: Double,
        p50: Double, p90: Double, p95: Double, p99: Double, partial: Bool = false, sketch: DDSketch? = nil, exactSum: ExactSum? = nil
    ) {
        self.span = span
        self.series = series
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.p50 = p50
        self.p90 = p90
        self.p95 = p95
        self.p99 = p99
        self.partial = partial
        self.sketch = sketch
        self.exactSum = exactSum
    }

    /// A window summarised from its sketch and exact sum: exact count, sum, minimum and
    /// maximum, and the four percentiles (0 when empty).
    public init(span: WindowSpan, series: SeriesKey, sketch: DDSketch, sum: ExactSum, partial: Bool = false) {
        self.init(span: span, series: series, count: sketch.count, sum: sum.value, min: sketch.min, max: sketch.max,
                  p50: sketch.quantile(0.50) ?? 0, p90: sketch.quantile(0.90) ?? 0,
                  p95: sketch.quantile(0.95) ?? 0, p99: sketch.quantile(0.99) ?? 0, partial: partial, sketch: sketch, exactSum: sum)
    }
}

/// `{"type":"cache_window",…}`: summed hits and misses of one cache in one window.
public struct CacheWindowSummary: Sendable, Hashable {
    public var span: WindowSpan
    public var tenantID: String?
    public var cache: String?
    public var labels: Labels
    public var hits: UInt64
    public var misses: UInt64
    /// The size reported by the record with the latest event time in the window.
    public var sizeKB: UInt64

    /// hits / (hits + misses), `nil` when both are zero.
    public var hitRatio: Double? {
        let total = Double(hits) + Double(misses)
        return total == 0 ? nil : Double(hits) / total
    }

    public init(span: WindowSpan, tenantID: String?, cache: String?, labels: Labels, hits: UInt64, misses: UInt64, sizeKB: UInt64) {
        self.span = span
        self.tenantID = tenantID
        self.cache = cache
        self.labels = labels
        self.hits = hits
        self.misses = misses
        self.sizeKB = sizeKB
    }
}

/// `{"type":"visits_window",…}`: visits (exact) and unique visitors (HyperLogLog) of one site.
public struct VisitsWindowSummary: Sendable, Hashable {
    public var span: WindowSpan
    public var tenantID: String?
    public var visits: UInt64
    public var uniqueVisitors: UInt64
    /// The window's visitors as a mergeable sketch: unions of windows merge it. `nil` for
    /// windows stored before segment format 2.
    public var visitors: HyperLogLog?

    public init(span: WindowSpan, tenantID: String?, visits: UInt64, uniqueVisitors: UInt64, visitors: HyperLogLog? = nil) {
        self.span = span
        self.tenantID = tenantID
        self.visits = visits
        self.uniqueVisitors = uniqueVisitors
        self.visitors = visitors
    }

    /// A window summarised from its visitor sketch.
    public init(span: WindowSpan, tenantID: String?, visits: UInt64, visitors: HyperLogLog) {
        self.init(span: span, tenantID: tenantID, visits: visits, uniqueVisitors: visitors.estimate, visitors: visitors)
    }
}

/// `{"type":"anomaly",…}`: a value the detector found unusual for its series.
public struct Anomaly: Sendable, Hashable {
    public var timestamp: Timestamp
    public var series: SeriesKey
    /// Which statistic of the window was scored (`mean`, `p99`, …).
    public var statistic: String
    public var value: Double
    public var expected: Double
    public var score: Double
    public var reason: String
    /// The length of the window that showed it (`nil` for anomalies stored before it was kept):
    /// with several window lengths, the same series can be scored at the same instant twice.
    public var window: WindowDuration?

    public init(timestamp: Timestamp, series: SeriesKey, statistic: String, value: Double, expected: Double, score: Double, reason: String,
                window: WindowDuration? = nil) {
        self.timestamp = timestamp
        self.series = series
        self.statistic = statistic
        self.value = value
        self.expected = expected
        self.score = score
        self.reason = reason
        self.window = window
    }
}

/// A calendar period of token accounting (UTC).
public enum UsagePeriod: String, Sendable, Hashable, Comparable, CaseIterable {
    case day
    case month

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .day && rhs == .month }
}

/// `{"type":"token_usage",…}`: one tenant's use of one model in one day or month.
public struct TokenUsageSummary: Sendable, Hashable {
    public var period: UsagePeriod
    public var start: Timestamp
    public var tenantID: String
    public var model: String
    public var requests: UInt64
    public var promptTokens: UInt64
    public var completionTokens: UInt64
    public var cachedTokens: UInt64
    /// Micro-dollars; `nil` when the model has no price.
    public var costMicroUSD: Int64?

    public var totalTokens: UInt64 { promptTokens &+ completionTokens }

    public init(
        period: UsagePeriod, start: Timestamp, tenantID: String, model: String, requests: UInt64,
        promptTokens: UInt64, completionTokens: UInt64, cachedTokens: UInt64, costMicroUSD: Int64?
    ) {
        self.period = period
        self.start = start
        self.tenantID = tenantID
        self.model = model
        self.requests = requests
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.costMicroUSD = costMicroUSD
    }
}

/// `{"type":"budget_alert",…}`: a tenant's usage crossed a threshold of its monthly budget.
public struct BudgetAlert: Sendable, Hashable {
    public var timestamp: Timestamp
    public var tenantID: String
    public var period: UsagePeriod
    public var start: Timestamp
    public var threshold: Double
    public var budgetTokens: UInt64?
    public var usedTokens: UInt64?
    public var budgetMicroUSD: Int64?
    public var usedMicroUSD: Int64?
    /// The request whose record crossed the threshold.
    public var requestID: String

    public init(
        timestamp: Timestamp, tenantID: String, period: UsagePeriod, start: Timestamp, threshold: Double,
        budgetTokens: UInt64?, usedTokens: UInt64?, budgetMicroUSD: Int64?, usedMicroUSD: Int64?, requestID: String
    ) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.period = period
        self.start = start
        self.threshold = threshold
        self.budgetTokens = budgetTokens
        self.usedTokens = usedTokens
        self.budgetMicroUSD = budgetMicroUSD
        self.usedMicroUSD = usedMicroUSD
        self.requestID = requestID
    }
}

/// `{"type":"summary",…}`: the last record of a run, with what each stage counted.
public struct RunSummary: Sendable, Hashable {
    /// Valid records.
    public var records: UInt64 = 0
    /// Valid records by type.
    public var recordsByType: [RecordKind: UInt64] = [:]
    /// Malformed lines.
    public var errors: UInt64 = 0
    public var errorsByReason: [DecodeError.Reason: UInt64] = [:]
    /// Records late for at least one window length.
    public var late: UInt64 = 0
    /// Late records per window length.
    public var lateByWindow: [WindowDuration: UInt64] = [:]
    /// Output records by type, counted as they pass the last stage.
    public var emitted: [String: UInt64] = [:]
    /// Further counters from later stages (`token_duplicates`, `anomalies`, …), by name.
    public var counters: [String: UInt64] = [:]

    public init() {}
}
