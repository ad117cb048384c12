import SluiceModel

extension TokenMeter.StateMachine {
    /// One budgeted tenant's usage over the rate window, in event time, in 24 buckets of a
    /// 24th of the window each (1 h for the default 24 h), aligned to the Unix epoch: a fixed
    /// 24 × 24 bytes per tenant, however many records it sends.
    ///
    /// The window ends at `newest`, the tenant's newest counted record this month, and holds
    /// the bucket of `newest` and the 23 before it; so the rate is measured from the start of
    /// the oldest of them (or from `first`, when the tenant's history this month is shorter)
    /// to `newest`: between 23 and 24 h with the default. Only usage of `newest`'s month is in
    /// the buckets, so a new month starts afresh.
    public struct BurnWindow: Sendable, Hashable {
        public static let buckets = 24

        /// The bucket width (µs) the buckets were kept with; another width starts afresh.
        public var bucketWidth: Int64
        /// The month (its start) of `newest`.
        public var month: Int64
        /// The earliest and the newest event time counted for the tenant this month.
        public var first: Int64
        public var newest: Int64
        /// Tokens and priced cost (pico-dollars) per bucket, at bucket number mod 24.
        public var tokens: [UInt64]
        public var costPico: [Int128]

        public init(bucketWidth: Int64, month: Int64, first: Int64, newest: Int64, tokens: [UInt64], costPico: [Int128]) {
            self.bucketWidth = bucketWidth
            self.month = month
            self.first = first
            self.newest = newest
            self.tokens = tokens
            self.costPico = costPico
        }

        init(bucketWidth: Int64, month: Int64, time: Int64) {
            self.init(bucketWidth: bucketWidth, month: month, first: time, newest: time,
                      tokens: Array(repeating: 0, count: Self.buckets), costPico: Array(repeating: 0, count: Self.buckets))
        }

        func bucket(_ t: Int64) -> Int64 { floorDiv(t, bucketWidth) }
        func slot(_ bucket: Int64) -> Int { Int(bucket - floorDiv(bucket, Int64(Self.buckets)) * Int64(Self.buckets)) }

        /// Counts a record of this month: moves the window on if it is the newest, and adds it
        /// to its bucket if that is still inside the window.
        mutating func add(time t: Int64, tokens n: UInt64, costPico cost: Int128) {
            first = min(first, t)
            if t > newest {
                let (from, to) = (bucket(newest), bucket(t))
                if to - from >= Int64(Self.buckets) {
                    for i in 0..<Self.buckets { (tokens[i], costPico[i]) = (0, 0) }
                } else if to > from {
                    for b in (from + 1)...to { (tokens[slot(b)], costPico[slot(b)]) = (0, 0) }
                }
                newest = t
            }
            let b = bucket(t)
            guard b > bucket(newest) - Int64(Self.buckets) else { return }
            tokens[slot(b)] &+= n
            costPico[slot(b)] += cost
        }

        /// Where the rate is measured from: the start of the oldest bucket in the window, or
        /// the tenant's first record this month if later.
        public var measuredFrom: Int64 { max((bucket(newest) - Int64(Self.buckets) + 1) * bucketWidth, first) }

        /// The rate's span, usage in tokens and priced pico-dollars; `nil` below one bucket of
        /// history (a forecast from a record or two would be noise).
        var rate: (span: Int64, tokens: UInt64, pico: Int128)? {
            let span = newest - measuredFrom
            guard span >= bucketWidth else { return nil }
            return (span, tokens.reduce(0, &+), costPico.reduce(0, +))
        }
    }

    /// Counts `r` in its tenant's burn window, then raises a `budget_forecast` for each
    /// threshold of its budget that the rate now says is reached this month and that has had
    /// none this month; in threshold order, tokens before dollars.
    mutating func forecast(
        _ r: TokenUsageRecord, _ budget: TokenMeter.Configuration.Budget, added: Totals, month: Int64, usedTokens: UInt64, usedPico: Int128,
        into events: inout [StageEvent]
    ) {
        guard configuration.forecastWindow > 0 else { return }
        let t = r.timestamp.microseconds
        let width = configuration.forecastWindow / Int64(BurnWindow.buckets)
        // Only the scalars are read, so the buckets are changed in place, not copied.
        let kept = state.burn[r.tenantID].map { (width: $0.bucketWidth, month: $0.month) }
        if let kept, kept.month > month { return }  // a late record of an earlier month
        if kept == nil || kept?.width != width || kept?.month != month {
            state.burn[r.tenantID] = BurnWindow(bucketWidth: width, month: month, time: t)
        }
        state.burn[r.tenantID]!.add(time: t, tokens: added.prompt &+ added.completion, costPico: added.unpriced ? 0 : added.costPico)
        var open: [(Double, BudgetForecast.Kind)] = []
        for threshold in budget.thresholds {
            if budget.monthlyTokens != nil,
               !state.firedForecasts.contains(AlertKey(tenantID: r.tenantID, month: month, threshold: threshold, usd: false)) {
                open.append((threshold, .tokens))
            }
            if budget.monthlyMicroUSD != nil,
               !state.firedForecasts.contains(AlertKey(tenantID: r.tenantID, month: month, threshold: threshold, usd: true)) {
                open.append((threshold, .usd))
            }
        }
        // Most records come after every threshold has had its forecast: nothing to work out.
        guard !open.isEmpty else { return }
        let forecasts = Self.project(state.burn[r.tenantID]!, tenantID: r.tenantID, budget: budget, only: open, usedTokens: usedTokens,
                                     usedPico: usedPico, watermark: state.watermark, at: r)
        for f in forecasts {
            state.firedForecasts.insert(AlertKey(tenantID: f.tenantID, month: month, threshold: f.threshold, usd: f.kind == .usd))
            bump("budget_forecasts")
            events.append(.output(.budgetForecast(f)))
        }
    }

    /// The current forecasts of every budgeted tenant (or one), by tenant, threshold and kind.
    public func forecasts(tenantID: String? = nil) -> [BudgetForecast] {
        guard configuration.forecastWindow > 0 else { return [] }
        let width = configuration.forecastWindow / Int64(BurnWindow.buckets)
        return state.burn.keys.sorted().flatMap { tenant -> [BudgetForecast] in
            guard tenantID == nil || tenant == tenantID, let budget = configuration.budgets[tenant],
                  let window = state.burn[tenant], window.bucketWidth == width else { return [] }
            let (tokens, pico) = monthUsage(tenant, month: window.month)
            let all = budget.thresholds.flatMap { [($0, BudgetForecast.Kind.tokens), ($0, .usd)] }
            return Self.project(window, tenantID: tenant, budget: budget, only: all, usedTokens: tokens, usedPico: pico,
                                watermark: state.watermark, at: nil)
        }
    }

    /// For each of the `only` thresholds and kinds of the budget not yet crossed, when the
    /// window's rate reaches it: newest + ⌈(needed − used) × span ÷ usage⌉, rounded up to the
    /// second; kept if before the month's end. Integer arithmetic throughout, so a replay gives
    /// the same instant.
    static func project(
        _ window: BurnWindow, tenantID: String, budget: TokenMeter.Configuration.Budget, only: [(Double, BudgetForecast.Kind)],
        usedTokens: UInt64, usedPico: Int128, watermark: Int64, at record: TokenUsageRecord?
    ) -> [BudgetForecast] {
        let monthEnd = Calendar.monthEnd(window.month)
        guard monthEnd > watermark, let rate = window.rate else { return [] }
        let span = Int128(rate.span)
        let left = Int128(monthEnd - window.newest)
        func reached(remaining: Int128, usage: Int128) -> Int64? {
            // ⌈remaining × span ÷ usage⌉ < left, without dividing (most thresholds are out of reach).
            guard remaining > 0, usage > 0, remaining * span <= usage * (left - 1) else { return nil }
            let delta = (remaining * span + usage - 1) / usage
            let exact = window.newest + Int64(delta)
            let second = (floorDiv(exact + 999_999, 1_000_000)) * 1_000_000
            return second < monthEnd ? second : nil
        }
        func forecast(_ threshold: Double, _ kind: BudgetForecast.Kind, limit: Int64, used: Int64, microsPerHour: Int128, at reachedAt: Int64) -> BudgetForecast {
            BudgetForecast(
                timestamp: record?.timestamp ?? Timestamp(microseconds: window.newest), tenantID: tenantID, start: Timestamp(microseconds: window.month),
                threshold: threshold, kind: kind, limit: limit, used: used, rateMicrosPerHour: Int64(clamping: microsPerHour),
                measuredFrom: Timestamp(microseconds: window.measuredFrom), measuredTo: Timestamp(microseconds: window.newest),
                reachedAt: Timestamp(microseconds: reachedAt), requestID: record?.requestID)
        }
        let hour: Int128 = 3_600_000_000
        var out: [BudgetForecast] = []
        for (threshold, kind) in only {
            // "Not yet crossed" is decided exactly as the budget alert decides crossing.
            if kind == .tokens, let limit = budget.monthlyTokens, Double(usedTokens) < threshold * Double(limit),
               let at = reached(remaining: Int128((threshold * Double(limit)).rounded(.up)) - Int128(usedTokens), usage: Int128(rate.tokens)) {
                let perHour = (Int128(rate.tokens) * hour * 1_000_000 * 2 + span) / (2 * span)
                out.append(forecast(threshold, .tokens, limit: Int64(clamping: limit), used: Int64(clamping: usedTokens), microsPerHour: perHour, at: at))
            }
            if kind == .usd, let limit = budget.monthlyMicroUSD, Double(usedPico) < threshold * Double(limit) * 1_000_000,
               let at = reached(remaining: Int128((threshold * Double(limit) * 1_000_000).rounded(.up)) - usedPico, usage: rate.pico) {
                let perHour = (rate.pico * hour * 2 + span * 1_000_000) / (2 * span * 1_000_000)
                let usedMicro = Int64(clamping: (usedPico + 500_000) / 1_000_000)
                out.append(forecast(threshold, .usd, limit: limit, used: usedMicro, microsPerHour: perHour, at: at))
            }
        }
        return out
    }
}
