extension TokenMeter {
    /// Prices, budgets, deduplication and the burn-rate forecast (`tokens:` keys).
    public struct Configuration: Sendable, Hashable {
        public struct Price: Sendable, Hashable {
            /// Micro-dollars per million tokens.
            public var prompt: Int64
            public var completion: Int64
            public var cached: Int64
            public init(prompt: Int64, completion: Int64, cached: Int64? = nil) {
                self.prompt = prompt
                self.completion = completion
                self.cached = cached ?? prompt
            }
        }

        public struct Budget: Sendable, Hashable {
            public var monthlyTokens: UInt64?
            public var monthlyMicroUSD: Int64?
            /// Ascending fractions of the budget.
            public var thresholds: [Double]
            public init(monthlyTokens: UInt64?, monthlyMicroUSD: Int64?, thresholds: [Double]) {
                self.monthlyTokens = monthlyTokens
                self.monthlyMicroUSD = monthlyMicroUSD
                self.thresholds = thresholds.sorted()
            }
        }

        public var prices: [String: Price] = [:]
        public var budgets: [String: Budget] = [:]
        /// A (tenant, request id) seen within this much event time is counted once.
        public var dedupeWindow: Int64 = 48 * 3_600_000_000
        /// Most request ids remembered.
        public var dedupeCapacity = 1_000_000
        /// Event time the burn rate of a budgeted tenant is measured over, kept in 24 buckets
        /// of a 24th of it each; 0 turns the forecast off.
        public var forecastWindow: Int64 = 24 * 3_600_000_000

        public init() {}
    }
}
