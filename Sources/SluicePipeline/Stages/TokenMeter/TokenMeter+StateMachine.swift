import DequeModule
import SluiceModel

extension TokenMeter {
    /// Exact, idempotent token accounting (design §3, "Token accounting"), pure and synchronous.
    ///
    /// Totals are integers; cost is kept in pico-dollars (tokens × micro-dollars per million
    /// tokens, exact) and shown rounded to the micro-dollar. A (tenant, request id) counts
    /// once; a record older than the dedupe window behind the watermark cannot be checked
    /// against it, so it is refused rather than risk counting twice.
    public struct StateMachine: Sendable {
        public let configuration: Configuration
        public internal(set) var state = State()

        public init(configuration: Configuration, restoring state: State? = nil) {
            self.configuration = configuration
            if let state { self.state = state }
        }

        /// Everything that must survive a restart, checkpointed as one unit.
        public struct State: Sendable, Hashable {
            public var days: [UsageKey: Totals] = [:]
            public var months: [UsageKey: Totals] = [:]
            /// Day and month totals changed by a late record after they closed: re-emitted at
            /// the next watermark, superseding the earlier record.
            public var revisedPeriods: Set<UsageKey> = []
            /// Recently closed days and months, kept while a late record could still revise them.
            public var closedPeriods: [UsageKey: Totals] = [:]
            public var firedAlerts: Set<AlertKey> = []
            /// Per budgeted tenant, its usage over the rate window (see `BurnWindow`).
            public var burn: [String: BurnWindow] = [:]
            /// Thresholds a `budget_forecast` has been raised for, once per month each.
            public var firedForecasts: Set<AlertKey> = []
            public var dedupe: [DedupeKey: Fingerprint] = [:]
            public var dedupeOrder: Deque<DedupeEntry> = []
            public var watermark = Int64.min
            public var counters: [String: UInt64] = [:]
            public init() {}
        }

        public struct UsageKey: Sendable, Hashable, Comparable {
            public var tenantID: String
            public var model: String
            public var period: UsagePeriod
            public var start: Int64
            public init(tenantID: String, model: String, period: UsagePeriod, start: Int64) {
                self.tenantID = tenantID
                self.model = model
                self.period = period
                self.start = start
            }
            public static func < (l: Self, r: Self) -> Bool {
                (l.start, l.period == .day ? 0 : 1, l.tenantID, l.model) < (r.start, r.period == .day ? 0 : 1, r.tenantID, r.model)
            }
        }

        public struct Totals: Sendable, Hashable {
            public var requests: UInt64 = 0
            public var prompt: UInt64 = 0
            public var completion: UInt64 = 0
            public var cached: UInt64 = 0
            /// Pico-dollars; meaningless when `unpriced`.
            public var costPico: Int128 = 0
            public var unpriced = false
            public init() {}
        }

        public struct AlertKey: Sendable, Hashable {
            public var tenantID: String
            public var month: Int64
            public var threshold: Double
            public var usd: Bool
            public init(tenantID: String, month: Int64, threshold: Double, usd: Bool) {
                self.tenantID = tenantID
                self.month = month
                self.threshold = threshold
                self.usd = usd
            }
        }

        public struct DedupeKey: Sendable, Hashable {
            public var tenantID: String
            public var requestID: String
            public init(tenantID: String, requestID: String) {
                self.tenantID = tenantID
                self.requestID = requestID
            }
        }

        /// What a request id was first counted with, to tell a duplicate from a conflict.
        public struct Fingerprint: Sendable, Hashable {
            public var model: String
            public var prompt: UInt64
            public var completion: UInt64
            public var cached: UInt64
            public var time: Int64
            public init(model: String, prompt: UInt64, completion: UInt64, cached: UInt64, time: Int64) {
                self.model = model
                self.prompt = prompt
                self.completion = completion
                self.cached = cached
                self.time = time
            }
        }

        public struct DedupeEntry: Sendable, Hashable {
            public var time: Int64
            public var key: DedupeKey
            public init(time: Int64, key: DedupeKey) {
                self.time = time
                self.key = key
            }
        }

        /// What happened to one record, for the driver to report.
        public enum Outcome: Sendable, Equatable {
            case counted
            case duplicate
            case conflict(String)
            case tooOld
        }

        /// Accounts one record; appends the budget alerts it triggers to `events`.
        public mutating func record(_ r: TokenUsageRecord, into events: inout [StageEvent]) -> Outcome {
            let t = r.timestamp.microseconds
            if state.watermark != .min, t < state.watermark - configuration.dedupeWindow {
                bump("token_too_old")
                return .tooOld
            }
            let key = DedupeKey(tenantID: r.tenantID, requestID: r.requestID)
            let fingerprint = Fingerprint(model: r.model, prompt: r.promptTokens, completion: r.completionTokens, cached: r.cachedTokens, time: t)
            if let first = state.dedupe[key] {
                var same = first
                same.time = t
                if same == fingerprint {
                    bump("token_duplicates")
                    return .duplicate
                }
                bump("token_conflicts")
                return .conflict("request \(r.requestID) of tenant \(r.tenantID) was first counted as \(first.model) \(first.prompt)+\(first.completion) tokens; this one (\(r.model) \(r.promptTokens)+\(r.completionTokens)) is ignored")
            }
            state.dedupe[key] = fingerprint
            state.dedupeOrder.append(DedupeEntry(time: t, key: key))
            while state.dedupeOrder.count > configuration.dedupeCapacity, let oldest = state.dedupeOrder.popFirst() {
                state.dedupe[oldest.key] = nil
                bump("token_dedupe_evicted")
            }

            let price = configuration.prices[r.model]
            if price == nil { bump("token_unpriced_records") }
            var add = Totals()
            add.requests = 1
            add.prompt = r.promptTokens
            add.completion = r.completionTokens
            add.cached = r.cachedTokens
            if let price {
                add.costPico = Int128(r.promptTokens - r.cachedTokens) * Int128(price.prompt)
                    + Int128(r.cachedTokens) * Int128(price.cached) + Int128(r.completionTokens) * Int128(price.completion)
            } else {
                add.unpriced = true
            }
            let day = UsageKey(tenantID: r.tenantID, model: r.model, period: .day, start: Calendar.dayStart(t))
            let month = UsageKey(tenantID: r.tenantID, model: r.model, period: .month, start: Calendar.monthStart(t))
            for key in [day, month] {
                if let closed = state.closedPeriods[key] {
                    state.closedPeriods[key] = closed + add
                    state.revisedPeriods.insert(key)
                    bump("token_late_revisions")
                } else if key.period == .day {
                    state.days[key, default: Totals()] += add
                } else {
                    state.months[key, default: Totals()] += add
                }
            }
            if let budget = configuration.budgets[r.tenantID] {
                let (usedTokens, usedPico) = monthUsage(r.tenantID, month: month.start)
                checkBudget(r, budget, month: month.start, usedTokens: usedTokens, usedPico: usedPico, into: &events)
                forecast(r, budget, added: add, month: month.start, usedTokens: usedTokens, usedPico: usedPico, into: &events)
            }
            return .counted
        }

        /// A tenant's tokens and priced cost (pico-dollars) in a month, open or closed.
        func monthUsage(_ tenantID: String, month: Int64) -> (tokens: UInt64, pico: Int128) {
            var usedTokens: UInt64 = 0
            var usedPico: Int128 = 0
            for map in [state.months, state.closedPeriods] {
                for (key, totals) in map where key.period == .month && key.tenantID == tenantID && key.start == month {
                    usedTokens &+= totals.prompt &+ totals.completion
                    if !totals.unpriced { usedPico += totals.costPico }
                }
            }
            return (usedTokens, usedPico)
        }

        private mutating func checkBudget(
            _ r: TokenUsageRecord, _ budget: Configuration.Budget, month: Int64, usedTokens: UInt64, usedPico: Int128,
            into events: inout [StageEvent]
        ) {
            let usedMicro = Int64((usedPico + 500_000) / 1_000_000)
            for threshold in budget.thresholds {
                var tokensCrossed = false, usdCrossed = false
                if let limit = budget.monthlyTokens, Double(usedTokens) >= threshold * Double(limit),
                   state.firedAlerts.insert(AlertKey(tenantID: r.tenantID, month: month, threshold: threshold, usd: false)).inserted {
                    tokensCrossed = true
                }
                if let limit = budget.monthlyMicroUSD, Double(usedPico) >= threshold * Double(limit) * 1_000_000,
                   state.firedAlerts.insert(AlertKey(tenantID: r.tenantID, month: month, threshold: threshold, usd: true)).inserted {
                    usdCrossed = true
                }
                guard tokensCrossed || usdCrossed else { continue }
                bump("budget_alerts")
                events.append(.output(.budgetAlert(BudgetAlert(
                    timestamp: r.timestamp, tenantID: r.tenantID, period: .month, start: Timestamp(microseconds: month),
                    threshold: threshold,
                    budgetTokens: tokensCrossed ? budget.monthlyTokens : nil, usedTokens: tokensCrossed ? usedTokens : nil,
                    budgetMicroUSD: usdCrossed ? budget.monthlyMicroUSD : nil, usedMicroUSD: usdCrossed ? usedMicro : nil,
                    requestID: r.requestID))))
            }
        }

        /// Event time has reached `watermark`: closes the days and months that end by then.
        public mutating func advance(to watermark: Int64, into events: inout [StageEvent]) {
            guard watermark > state.watermark else { return }
            state.watermark = watermark
            // Forget request ids that have left the dedupe window.
            let cutoff = watermark - configuration.dedupeWindow
            while let oldest = state.dedupeOrder.first, oldest.time < cutoff {
                state.dedupeOrder.removeFirst()
                if state.dedupe[oldest.key]?.time == oldest.time { state.dedupe[oldest.key] = nil }
            }
            emitClosed(through: watermark, into: &events)
        }

        /// End of input: every open day and month is reported (they stay open for more input).
        public mutating func inputFinished(into events: inout [StageEvent]) {
            emitRevisions(into: &events)
            let days = state.days.keys.sorted()
            for key in days { events.append(.output(.tokenUsage(summary(key, state.days[key]!)))) }
            let months = state.months.keys.sorted()
            for key in months { events.append(.output(.tokenUsage(summary(key, state.months[key]!)))) }
        }

        private mutating func emitClosed(through watermark: Int64, into events: inout [StageEvent]) {
            emitRevisions(into: &events)
            let closingDays = state.days.keys.filter { Calendar.dayEnd($0.start) <= watermark }.sorted()
            for key in closingDays {
                let totals = state.days.removeValue(forKey: key)!
                state.closedPeriods[key] = totals
                events.append(.output(.tokenUsage(summary(key, totals))))
            }
            let closingMonths = state.months.keys.filter { Calendar.monthEnd($0.start) <= watermark }.sorted()
            for key in closingMonths {
                let totals = state.months.removeValue(forKey: key)!
                state.closedPeriods[key] = totals
                events.append(.output(.tokenUsage(summary(key, totals))))
            }
            // Closed periods are kept for late revisions while a late record could still arrive
            // (one older than the dedupe window is refused).
            let oldest = watermark - configuration.dedupeWindow
            for key in state.closedPeriods.keys {
                let end = key.period == .day ? Calendar.dayEnd(key.start) : Calendar.monthEnd(key.start)
                if end < oldest { state.closedPeriods[key] = nil }
            }
            // No record of such a month can be counted any more, so none can forecast it.
            state.firedForecasts = state.firedForecasts.filter { Calendar.monthEnd($0.month) >= oldest }
        }

        private mutating func emitRevisions(into events: inout [StageEvent]) {
            for key in state.revisedPeriods.sorted() {
                if let totals = state.closedPeriods[key] { events.append(.output(.tokenUsage(summary(key, totals)))) }
            }
            state.revisedPeriods.removeAll()
        }

        func summary(_ key: UsageKey, _ t: Totals) -> TokenUsageSummary {
            TokenUsageSummary(
                period: key.period, start: Timestamp(microseconds: key.start), tenantID: key.tenantID, model: key.model,
                requests: t.requests, promptTokens: t.prompt, completionTokens: t.completion, cachedTokens: t.cached,
                costMicroUSD: t.unpriced ? nil : Int64((t.costPico + 500_000) / 1_000_000))
        }

        mutating func bump(_ name: String) { state.counters[name, default: 0] += 1 }

        /// Rebuilds what a checkpoint missed from the records stored after it (the store is the
        /// write-ahead log): each is accounted as if it arrived now, so the ones the checkpoint
        /// already holds are duplicates and change nothing. The run's counters are left as they
        /// were, except `token_recovered`, the records counted here. Returns the alerts raised.
        public mutating func recover(_ records: [TokenUsageRecord]) -> [StageEvent] {
            let counters = state.counters
            var events: [StageEvent] = []
            var recovered: UInt64 = 0
            for r in records where record(r, into: &events) == .counted { recovered += 1 }
            state.counters = counters
            if recovered > 0 { state.counters["token_recovered", default: 0] += recovered }
            return events
        }

        /// The oldest event time a stored record can have and still be counted: older ones
        /// are refused as too old, so a rebuild need not read them.
        public var oldestCountable: Int64? {
            state.watermark == .min ? nil : state.watermark - configuration.dedupeWindow
        }
    }
}

extension TokenMeter.StateMachine.Totals {
    static func + (l: Self, r: Self) -> Self {
        var t = l
        t += r
        return t
    }

    static func += (l: inout Self, r: Self) {
        l.requests &+= r.requests
        l.prompt &+= r.prompt
        l.completion &+= r.completion
        l.cached &+= r.cached
        l.costPico += r.costPico
        l.unpriced = l.unpriced || r.unpriced
    }
}

/// UTC calendar arithmetic on microsecond timestamps.
enum Calendar {
    static let day: Int64 = 86_400_000_000

    static func dayStart(_ t: Int64) -> Int64 { floorDiv(t, day) * day }
    static func dayEnd(_ start: Int64) -> Int64 { start + day }

    static func monthStart(_ t: Int64) -> Int64 {
        let (y, m, _) = RFC3339.civil(daysSinceEpoch: Int(floorDiv(t, day)))
        return Int64(RFC3339.days(year: y, month: m, day: 1)) * day
    }

    static func monthEnd(_ start: Int64) -> Int64 {
        let (y, m, _) = RFC3339.civil(daysSinceEpoch: Int(floorDiv(start, day)))
        let (ny, nm) = m == 12 ? (y + 1, 1) : (y, m + 1)
        return Int64(RFC3339.days(year: ny, month: nm, day: 1)) * day
    }
}
