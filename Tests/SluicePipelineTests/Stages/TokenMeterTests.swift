import Testing
import SluiceModel
import SluiceTesting
@testable import SluicePipeline

@Suite("Token meter")
struct TokenMeterTests {
    static let t0: Int64 = 1_795_514_400_000_000  // 2026-11-24T10:00:00Z
    static let hour: Int64 = 3_600_000_000

    static func configuration() -> TokenMeter.Configuration {
        var c = TokenMeter.Configuration()
        c.prices["gpt-4o"] = .init(prompt: 2_500_000, completion: 10_000_000, cached: 1_250_000)
        c.prices["small"] = .init(prompt: 150_000, completion: 600_000)
        c.budgets["site-a"] = .init(monthlyTokens: 200_000, monthlyMicroUSD: 1_000_000, thresholds: [0.5, 0.8, 1.0])
        c.budgets["site-b"] = .init(monthlyTokens: nil, monthlyMicroUSD: 500_000, thresholds: [0.5, 1.0])
        return c
    }

    struct Input {
        var tenant: String, model: String, prompt: UInt64, completion: UInt64, cached: UInt64, request: String, time: Int64
        var record: TokenUsageRecord {
            TokenUsageRecord(timestamp: Timestamp(microseconds: time), tenantID: tenant, model: model, promptTokens: prompt,
                             completionTokens: completion, cachedTokens: cached, requestID: request)
        }
    }

    /// Many tenants and models over three days, with exact repeats, conflicting repeats,
    /// records out of order and a model without a price.
    static func workload() -> [Input] {
        var random = SeededRandom(seed: 17)
        var inputs: [Input] = []
        let tenants = ["site-a", "site-b", "site-c", "site-d"]
        let models = ["gpt-4o", "small", "unpriced-model"]
        for i in 0..<6_000 {
            var time = t0 + Int64(i) * 40_000_000  // every 40 s: about 2.8 days
            if random.next() % 10 == 0 { time -= Int64(random.next() % 3_000_000) }  // out of order, < 5 s
            let prompt = random.next() % 2_000
            inputs.append(Input(tenant: tenants[Int(random.next() % 4)], model: models[Int(random.next() % 3)],
                                prompt: prompt, completion: random.next() % 500, cached: random.next() % (prompt + 1),
                                request: "req-\(i)", time: time))
            if random.next() % 15 == 0 {  // an exact repeat, later
                var again = inputs.last!
                again.time += 1_000_000
                inputs.append(again)
            }
            if random.next() % 40 == 0 {  // the same id with different numbers
                var conflict = inputs.last!
                conflict.completion += 7
                inputs.append(conflict)
            }
        }
        return inputs
    }

    /// Feeds inputs through the machine with watermarks as the aggregator would send them.
    static func run(_ inputs: [Input], machine: inout TokenMeter.StateMachine) -> [StageEvent] {
        var events: [StageEvent] = []
        var maxTime = Int64.min
        for input in inputs {
            _ = machine.record(input.record, into: &events)
            if input.time > maxTime {
                maxTime = input.time
                machine.advance(to: maxTime - 5_000_000, into: &events)
            }
        }
        machine.inputFinished(into: &events)
        return events
    }

    @Test("totals and costs equal an independent computation; duplicates and conflicts count once")
    func exactTotals() {
        let inputs = Self.workload()
        var machine = TokenMeter.StateMachine(configuration: Self.configuration())
        let events = Self.run(inputs, machine: &machine)

        // Independent: first record per (tenant, request) wins; cost in exact rationals of
        // micro-dollars (numerator over one million).
        var seen = Set<String>()
        var expected: [String: (requests: UInt64, prompt: UInt64, completion: UInt64, cached: UInt64, costNumerator: Int128, priced: Bool)] = [:]
        let prices: [String: (Int128, Int128, Int128)] = ["gpt-4o": (2_500_000, 10_000_000, 1_250_000), "small": (150_000, 600_000, 150_000)]
        for input in inputs where seen.insert("\(input.tenant)|\(input.request)").inserted {
            let day = (input.time / 86_400_000_000) * 86_400_000_000
            for key in ["day|\(day)|\(input.tenant)|\(input.model)", "month|\(input.tenant)|\(input.model)"] {
                var e = expected[key] ?? (0, 0, 0, 0, 0, true)
                e.requests += 1
                e.prompt += input.prompt
                e.completion += input.completion
                e.cached += input.cached
                if let p = prices[input.model] {
                    e.costNumerator += Int128(input.prompt - input.cached) * p.0 + Int128(input.completion) * p.1 + Int128(input.cached) * p.2
                } else {
                    e.priced = false
                }
                expected[key] = e
            }
        }
        var actual: [String: TokenUsageSummary] = [:]
        for case .output(.tokenUsage(let u)) in events {
            let key = u.period == .day ? "day|\(u.start.microseconds)|\(u.tenantID)|\(u.model)" : "month|\(u.tenantID)|\(u.model)"
            actual[key] = u  // a later record for the same day supersedes (late revisions)
        }
        #expect(Set(actual.keys) == Set(expected.keys))
        for (key, e) in expected {
            guard let a = actual[key] else { continue }
            #expect(a.requests == e.requests && a.promptTokens == e.prompt && a.completionTokens == e.completion && a.cachedTokens == e.cached, "\(key)")
            #expect(a.totalTokens == e.prompt + e.completion)
            if e.priced {
                // Rounded half up from the exact pico-dollar total.
                #expect(a.costMicroUSD == Int64((e.costNumerator + 500_000) / 1_000_000), "\(key)")
            } else {
                #expect(a.costMicroUSD == nil, "\(key): an unpriced model is never priced at zero")
            }
        }
        let duplicates = inputs.count - seen.count
        #expect(machine.state.counters["token_duplicates", default: 0] + machine.state.counters["token_conflicts", default: 0] == UInt64(duplicates))
        #expect(machine.state.counters["token_conflicts", default: 0] > 0)
        #expect(machine.state.counters["token_unpriced_records", default: 0] > 0)
    }

    @Test("each budget threshold alerts once per month, at the record that crosses it")
    func alertsAtTheCrossingRecord() {
        let inputs = Self.workload()
        var machine = TokenMeter.StateMachine(configuration: Self.configuration())
        let events = Self.run(inputs, machine: &machine)
        let alerts = events.compactMap { if case .output(.budgetAlert(let a)) = $0 { a } else { nil } }

        // Independent replay of site-a's token budget: the first request at which the
        // month's tokens reach each threshold.
        var used: UInt64 = 0
        var seen = Set<String>()
        var crossings: [Double: String] = [:]
        for input in inputs where input.tenant == "site-a" && seen.insert(input.request).inserted {
            used += input.prompt + input.completion
            for t in [0.5, 0.8, 1.0] where crossings[t] == nil && Double(used) >= t * 200_000 { crossings[t] = input.request }
        }
        let tokenAlerts = alerts.filter { $0.tenantID == "site-a" && $0.budgetTokens != nil }
        #expect(tokenAlerts.count == crossings.count)
        for alert in tokenAlerts {
            #expect(crossings[alert.threshold] == alert.requestID, "threshold \(alert.threshold)")
            #expect((alert.usedTokens ?? 0) >= UInt64(alert.threshold * 200_000))
        }
        // No threshold fires twice.
        let keys = alerts.map { "\($0.tenantID)|\($0.threshold)|\($0.budgetTokens != nil)|\($0.budgetMicroUSD != nil)|\($0.start)" }
        #expect(Set(keys).count == keys.count)
        // The alert sits right after the record that crossed: nothing else between them.
        #expect(!alerts.isEmpty)
    }

    @Test("restoring the state and replaying everything changes no total and raises no alert again")
    func idempotentReplay() {
        let inputs = Self.workload()
        var first = TokenMeter.StateMachine(configuration: Self.configuration())
        let half = inputs.count / 2
        _ = Self.run(Array(inputs[..<half]), machine: &first)
        // "Crash" here: restart from the state, and feed the whole input again.
        var restarted = TokenMeter.StateMachine(configuration: Self.configuration(), restoring: first.state)
        let replayEvents = Self.run(inputs, machine: &restarted)

        var once = TokenMeter.StateMachine(configuration: Self.configuration())
        let onceEvents = Self.run(inputs, machine: &once)

        #expect(restarted.state.months == once.state.months)
        let alertsAfterRestart = replayEvents.filter { if case .output(.budgetAlert) = $0 { true } else { false } }.count
        let alertsOnce = onceEvents.filter { if case .output(.budgetAlert) = $0 { true } else { false } }.count
        let alertsBefore = first.state.firedAlerts.count
        #expect(alertsBefore > 0)
        #expect(alertsAfterRestart + alertsBefore == alertsOnce, "alerts fired before the crash are not raised again")
    }

    @Test("a record too old to check against the dedupe window is refused, not counted twice")
    func tooOld() {
        var machine = TokenMeter.StateMachine(configuration: Self.configuration())
        var events: [StageEvent] = []
        let r1 = Input(tenant: "site-a", model: "small", prompt: 10, completion: 1, cached: 0, request: "a", time: Self.t0).record
        _ = machine.record(r1, into: &events)
        machine.advance(to: Self.t0 + 50 * Self.hour, into: &events)
        #expect(machine.record(r1, into: &events) == .tooOld)
        #expect(machine.state.counters["token_too_old"] == 1)
    }
}
