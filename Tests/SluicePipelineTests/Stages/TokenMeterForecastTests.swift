import Testing
import SluiceModel
import SluiceTesting
@testable import SluicePipeline

/// The burn-rate forecast, against numbers worked out by hand: model `m` costs $1 per
/// million tokens, so a token costs one micro-dollar and dollar rates equal token rates.
@Suite("Token meter forecast")
struct TokenMeterForecastTests {
    static let t0: Int64 = 1_794_268_800_000_000  // 2026-11-10T00:00:00Z
    static let hour: Int64 = 3_600_000_000

    static func configuration(window: Int64 = 24 * hour) -> TokenMeter.Configuration {
        var c = TokenMeter.Configuration()
        c.prices["m"] = .init(prompt: 1_000_000, completion: 1_000_000)
        c.budgets["site-a"] = .init(monthlyTokens: 1_000_000, monthlyMicroUSD: 20_000_000, thresholds: [0.5, 0.8, 1.0])
        c.budgets["site-b"] = .init(monthlyTokens: 100_000, monthlyMicroUSD: nil, thresholds: [0.5, 1.0])
        c.forecastWindow = window
        return c
    }

    static func time(_ text: String) -> Timestamp { try! RFC3339.parse(text).get() }

    struct Meter {
        var machine: TokenMeter.StateMachine
        var forecasts: [BudgetForecast] = []
        var alerts: [BudgetAlert] = []

        init(_ configuration: TokenMeter.Configuration = TokenMeterForecastTests.configuration()) {
            machine = TokenMeter.StateMachine(configuration: configuration)
        }

        /// Counts one record; returns the forecasts it raised.
        @discardableResult
        mutating func record(_ tenant: String, at time: Int64, tokens: UInt64, id: String, model: String = "m") -> [BudgetForecast] {
            var events: [StageEvent] = []
            let r = TokenUsageRecord(timestamp: Timestamp(microseconds: time), tenantID: tenant, model: model,
                                     promptTokens: tokens, completionTokens: 0, requestID: id)
            _ = machine.record(r, into: &events)
            machine.advance(to: time - 5_000_000, into: &events)
            let raised = events.compactMap { if case .output(.budgetForecast(let f)) = $0 { f } else { nil } }
            forecasts += raised
            alerts += events.compactMap { if case .output(.budgetAlert(let a)) = $0 { a } else { nil } }
            return raised
        }
    }

    /// What a forecast announces, for comparing with a hand-made list.
    static func announced(_ f: BudgetForecast) -> String {
        "\(f.kind) \(f.threshold) \(f.reachedAt)"
    }

    @Test("one record, or under an hour of history, forecasts nothing; at an hour the rate is usage over the span")
    func firstHour() {
        var meter = Meter()
        #expect(meter.record("site-a", at: Self.t0, tokens: 10_000, id: "r1").isEmpty)
        #expect(meter.record("site-a", at: Self.t0 + Self.hour - 1, tokens: 1, id: "r2").isEmpty, "59 min 59.999999 s is under an hour")
        let raised = meter.record("site-a", at: Self.t0 + Self.hour, tokens: 9_999, id: "r3")
        // 20,000 tokens (and micro-dollars) over [00:00, 01:00]: 20,000 per hour; 20,000 used.
        // tokens 50%: 480,000 more in 24 h; 80%: 780,000 in 39 h; 100%: 980,000 in 49 h.
        // dollars ($20): 50% needs $9.98 more: 499 h, at Nov 30 20:00; 80% and 100% are after
        // the month ends.
        // In threshold order, tokens before dollars.
        #expect(raised.map(Self.announced) == [
            "tokens 0.5 \(Self.time("2026-11-11T01:00:00Z"))",
            "usd 0.5 \(Self.time("2026-11-30T20:00:00Z"))",
            "tokens 0.8 \(Self.time("2026-11-11T16:00:00Z"))",
            "tokens 1.0 \(Self.time("2026-11-12T02:00:00Z"))",
        ])
        let first = raised[0]
        #expect(first.ratePerHour == 20_000)
        #expect(first.used == 20_000 && first.limit == 1_000_000)
        #expect(first.measuredFrom == Timestamp(microseconds: Self.t0) && first.measuredTo == Timestamp(microseconds: Self.t0 + Self.hour))
        #expect(first.timestamp == first.measuredTo && first.requestID == "r3")
        #expect(first.start == Self.time("2026-11-01T00:00:00Z"))
        let dollars = raised[1]
        #expect(dollars.ratePerHour == 0.02 && dollars.used == 20_000 && dollars.limit == 20_000_000)
        #expect(meter.machine.state.counters["budget_forecasts"] == 4)
    }

    @Test("a threshold is forecast once a month, the first time the rate reaches it before the month ends")
    func oncePerThreshold() {
        var meter = Meter()
        meter.record("site-a", at: Self.t0, tokens: 10_000, id: "r1")
        meter.record("site-a", at: Self.t0 + Self.hour, tokens: 10_000, id: "r2")
        #expect(meter.forecasts.count == 4)
        // Slower: 30,000 over 2 h. Nothing new, nothing again.
        #expect(meter.record("site-a", at: Self.t0 + 2 * Self.hour, tokens: 10_000, id: "r3").isEmpty)
        // A burst: 240,000 over 3 h is 80,000 an hour; $16 needs $15.76 more: 197 h, and $20
        // needs $19.76: 247 h.
        let raised = meter.record("site-a", at: Self.t0 + 3 * Self.hour, tokens: 210_000, id: "r4")
        #expect(raised.map(Self.announced) == [
            "usd 0.8 \(Self.time("2026-11-18T08:00:00Z"))",
            "usd 1.0 \(Self.time("2026-11-20T10:00:00Z"))",
        ])
        #expect(raised.allSatisfy { $0.ratePerHour == 0.08 && $0.used == 240_000 })
        // Crossing 50% of the tokens raises the budget alert, and no forecast again.
        #expect(meter.record("site-a", at: Self.t0 + 4 * Self.hour, tokens: 300_000, id: "r5").isEmpty)
        #expect(meter.alerts.map(\.threshold) == [0.5])
        #expect(meter.forecasts.count == 6)
        let keys = meter.forecasts.map { "\($0.kind) \($0.threshold)" }
        #expect(Set(keys).count == keys.count)
    }

    @Test("a threshold already crossed gets no forecast; a tenant without a budget gets none")
    func crossedAndUnbudgeted() {
        var meter = Meter()
        // site-b's first record crosses 50% of its 100,000 tokens.
        meter.record("site-b", at: Self.t0, tokens: 60_000, id: "b1")
        #expect(meter.alerts.map(\.threshold) == [0.5])
        // 61,000 over 2 h: 30,500 an hour; 100% needs 39,000 more: 1 h 16 min 43.279 s,
        // rounded up to the second.
        let raised = meter.record("site-b", at: Self.t0 + 2 * Self.hour, tokens: 1_000, id: "b2")
        #expect(raised.map(Self.announced) == ["tokens 1.0 \(Self.time("2026-11-10T03:16:44Z"))"])
        #expect(raised.first?.ratePerHour == 30_500)
        #expect(meter.machine.forecasts(tenantID: "site-b").map(\.threshold) == [1.0], "the live read has no forecast for 50% either")

        meter.record("site-z", at: Self.t0, tokens: 900_000, id: "z1")
        meter.record("site-z", at: Self.t0 + 5 * Self.hour, tokens: 900_000, id: "z2")
        #expect(meter.forecasts.allSatisfy { $0.tenantID != "site-z" })
        #expect(meter.machine.forecasts(tenantID: "site-z").isEmpty)
        #expect(meter.machine.state.burn["site-z"] == nil, "no rate is kept for a tenant without a budget")
    }

    @Test("a new month measures afresh and forecasts its thresholds again")
    func newMonth() {
        var meter = Meter()
        meter.record("site-a", at: Self.t0, tokens: 10_000, id: "r1")
        meter.record("site-a", at: Self.t0 + Self.hour, tokens: 10_000, id: "r2")
        #expect(meter.forecasts.count == 4)
        let december = Self.time("2026-12-01T00:00:00Z").microseconds
        #expect(meter.record("site-a", at: december + 30 * 60_000_000, tokens: 10_000, id: "d1").isEmpty)
        #expect(meter.machine.forecasts(tenantID: "site-a").isEmpty, "December has half an hour of history")
        // A late November record changes neither December's rate nor November's forecasts.
        #expect(meter.record("site-a", at: december - 60_000_000, tokens: 400_000, id: "late").isEmpty)
        let raised = meter.record("site-a", at: december + 90 * 60_000_000, tokens: 10_000, id: "d2")
        // 20,000 over [00:30, 01:30]: the same four thresholds, now of December.
        #expect(raised.map(Self.announced) == [
            "tokens 0.5 \(Self.time("2026-12-02T01:30:00Z"))",
            "usd 0.5 \(Self.time("2026-12-21T20:30:00Z"))",
            "tokens 0.8 \(Self.time("2026-12-02T16:30:00Z"))",
            "tokens 1.0 \(Self.time("2026-12-03T02:30:00Z"))",
        ])
        #expect(raised.allSatisfy { $0.start == Self.time("2026-12-01T00:00:00Z") && $0.used == 20_000 })
        #expect(raised.first?.measuredFrom == Timestamp(microseconds: december + 30 * 60_000_000))
    }

    @Test("the rate is over the 24 hourly buckets ending with the newest record's hour")
    func slidingWindow() throws {
        var meter = Meter()
        meter.record("site-a", at: Self.t0, tokens: 400_000, id: "big")
        for h in 1...30 { meter.record("site-a", at: Self.t0 + Int64(h) * Self.hour, tokens: 1_000, id: "h\(h)") }
        // Newest at 06:00 the next day (hour 30): the window starts at hour 7; 24 records of
        // 1,000 over 23 h, 1,043.478261 tokens an hour. The big first record has left it.
        let live = meter.machine.forecasts(tenantID: "site-a")
        let first = try #require(live.first)
        #expect(first.measuredFrom == Timestamp(microseconds: Self.t0 + 7 * Self.hour))
        #expect(first.measuredTo == Timestamp(microseconds: Self.t0 + 30 * Self.hour))
        #expect(first.rateMicrosPerHour == 1_043_478_261)
        #expect(first.used == 430_000 && first.requestID == nil)
        // A record older than the window leaves the rate alone; one inside it counts.
        meter.record("site-a", at: Self.t0 + 6 * Self.hour + 1, tokens: 50_000, id: "old")
        #expect(meter.machine.forecasts(tenantID: "site-a").first?.rateMicrosPerHour == 1_043_478_261)
        meter.record("site-a", at: Self.t0 + 7 * Self.hour + 1, tokens: 23_000, id: "inside")
        #expect(meter.machine.forecasts(tenantID: "site-a").first?.rateMicrosPerHour == 2_043_478_261)
        // A 6 h window keeps 15 min buckets: from 00:15 to 06:00.
        var short = Meter(Self.configuration(window: 6 * Self.hour))
        for h in 0...30 { short.record("site-a", at: Self.t0 + Int64(h) * Self.hour, tokens: 1_000, id: "h\(h)") }
        #expect(short.machine.forecasts(tenantID: "site-a").first?.measuredFrom == Timestamp(microseconds: Self.t0 + 24 * Self.hour + Self.hour / 4))
    }

    @Test("forecast_window 0 turns the forecast off")
    func off() {
        var meter = Meter(Self.configuration(window: 0))
        for h in 0...5 { meter.record("site-a", at: Self.t0 + Int64(h) * Self.hour, tokens: 100_000, id: "h\(h)") }
        #expect(meter.forecasts.isEmpty)
        #expect(meter.machine.forecasts().isEmpty)
        #expect(meter.machine.state.burn.isEmpty)
        #expect(!meter.alerts.isEmpty, "budget alerts are not affected")
    }

    /// Feeds the token meter tests' workload, one forecast list per prefix.
    static func forecasts(of inputs: [TokenMeterTests.Input], restoring state: TokenMeter.StateMachine.State? = nil) -> (TokenMeter.StateMachine, [BudgetForecast]) {
        var machine = TokenMeter.StateMachine(configuration: TokenMeterTests.configuration(), restoring: state)
        let events = TokenMeterTests.run(inputs, machine: &machine)
        return (machine, events.compactMap { if case .output(.budgetForecast(let f)) = $0 { f } else { nil } })
    }

    @Test("a forecast depends only on what came before it: every prefix of the input raises a prefix of the forecasts, and twice the same")
    func prefixDeterminism() {
        let inputs = TokenMeterTests.workload()
        let (_, all) = Self.forecasts(of: inputs)
        #expect(all.count >= 3, "the workload raises forecasts")
        #expect(Self.forecasts(of: inputs).1 == all)
        // Finely where the first forecasts are raised (after an hour of history), coarsely after.
        for cut in Array(stride(from: 0, to: 400, by: 9)) + Array(stride(from: 400, through: inputs.count, by: 600)) {
            let (_, prefix) = Self.forecasts(of: Array(inputs[..<cut]))
            #expect(Array(all.prefix(prefix.count)) == prefix, "prefix of \(cut) records")
        }
    }

    @Test("restoring the state and replaying everything raises no forecast again")
    func restart() {
        let inputs = TokenMeterTests.workload()
        let (_, once) = Self.forecasts(of: inputs)
        for cut in [inputs.count / 5, inputs.count / 2] {
            let (first, before) = Self.forecasts(of: Array(inputs[..<cut]))
            let (_, after) = Self.forecasts(of: inputs, restoring: first.state)
            let keys = (before + after).map { "\($0.tenantID) \($0.start) \($0.threshold) \($0.kind)" }
            #expect(Set(keys).count == keys.count, "no forecast twice (cut at \(cut))")
            #expect(Set(keys) == Set(once.map { "\($0.tenantID) \($0.start) \($0.threshold) \($0.kind)" }))
        }
    }
}
