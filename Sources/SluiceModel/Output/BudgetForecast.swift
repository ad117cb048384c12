/// `{"type":"budget_forecast",…}`: at a tenant's recent burn rate, a threshold of its monthly
/// budget that is not yet crossed will be crossed before the month ends.
///
/// The same value answers the live read of the token meter (the current forecast) and is the
/// output record raised the first time a forecast names a threshold in a month.
public struct BudgetForecast: Sendable, Hashable {
    /// Which of the budget's limits the forecast is about.
    public enum Kind: String, Sendable, Hashable, Comparable, CaseIterable {
        case tokens
        case usd

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .tokens && rhs == .usd }
    }

    /// Event time of the record the forecast was made at (the tenant's newest, for a live read).
    public var timestamp: Timestamp
    public var tenantID: String
    public var period: UsagePeriod
    /// The month the budget is for.
    public var start: Timestamp
    public var threshold: Double
    public var kind: Kind
    /// The monthly limit: tokens, or micro-dollars.
    public var limit: Int64
    /// Used this month so far: tokens, or micro-dollars.
    public var used: Int64
    /// The burn rate in millionths of a token, or in micro-dollars, per hour (rounded half up).
    public var rateMicrosPerHour: Int64
    /// The span of event time the rate was measured over.
    public var measuredFrom: Timestamp
    public var measuredTo: Timestamp
    /// When the threshold is reached at that rate (rounded up to the second); before the
    /// month's end.
    public var reachedAt: Timestamp
    /// The request whose record raised the forecast (`nil` in a live read).
    public var requestID: String?

    /// The burn rate in tokens, or in US dollars, per hour.
    public var ratePerHour: Double { Double(rateMicrosPerHour) / 1_000_000 }

    public init(
        timestamp: Timestamp, tenantID: String, period: UsagePeriod = .month, start: Timestamp, threshold: Double, kind: Kind,
        limit: Int64, used: Int64, rateMicrosPerHour: Int64, measuredFrom: Timestamp, measuredTo: Timestamp, reachedAt: Timestamp,
        requestID: String?
    ) {
        self.timestamp = timestamp
        self.tenantID = tenantID
        self.period = period
        self.start = start
        self.threshold = threshold
        self.kind = kind
        self.limit = limit
        self.used = used
        self.rateMicrosPerHour = rateMicrosPerHour
        self.measuredFrom = measuredFrom
        self.measuredTo = measuredTo
        self.reachedAt = reachedAt
        self.requestID = requestID
    }
}
