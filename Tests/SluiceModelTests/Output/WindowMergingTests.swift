import Foundation
import Testing
import SluiceTesting
@testable import SluiceModel

/// Unions of windows — across routes, tenants and time — answer percentiles within 1% of the
/// exact sample of that rank over all their raw samples, and unique visitors within 2%: the
/// oracle is the sorted raw samples and a set of visitor ids, never a sketch.
@Suite("Window merging")
struct WindowMergingTests {
    static let t0 = Timestamp(microseconds: 1_795_514_400_000_000)

    /// A window over `values`, as the aggregator summarises one.
    static func window(_ values: [Double], start: Timestamp, length: WindowDuration = .minutes(1), name: String = "response_time", route: String = "/") -> WindowSummary {
        var sketch = DDSketch()
        var sum = ExactSum()
        for v in values { sketch.add(v); sum.add(v) }
        return WindowSummary(span: WindowSpan(length: length, start: start), series: SeriesKey(tenantID: "shop", name: name, labels: ["route": route]), sketch: sketch, sum: sum)
    }

    static func samples(_ route: Int, _ n: Int, _ random: inout SeededRandom) -> [Double] {
        (0..<n).map { _ in
            switch route {
            case 0: exp(random.gaussian() * 0.3 + 3)          // around 20 ms
            case 1: exp(random.gaussian() * 0.5 + 5.3)        // around 200 ms
            default: 1 / pow(1 - random.unit(), 1 / 1.5) * 50 // a heavy tail
            }
        }
    }

    @Test("every route of a tenant, and every hour of 1m windows, merge to within 1% of the exact rank value",
          arguments: [(routes: 3, minutes: 1), (routes: 1, minutes: 60), (routes: 3, minutes: 60), (routes: 5, minutes: 7)])
    func percentiles(routes: Int, minutes: Int) {
        var random = SeededRandom(seed: UInt64(routes * 1000 + minutes))
        var windows: [WindowSummary] = []
        var all: [Double] = []
        for m in 0..<minutes {
            for r in 0..<routes {
                // Uneven sizes: the busiest window must not decide the answer.
                let values = Self.samples(r % 3, 20 + Int(random.unit() * 400) * (r + 1), &random)
                all += values
                windows.append(Self.window(values, start: Self.t0 + .minutes(Int64(m)), route: "/r\(r)"))
            }
        }
        let span = WindowSpan(length: .minutes(Int64(minutes)), start: Self.t0)
        let merged = WindowSummary.merging(windows.shuffled(using: &random), span: span, series: SeriesKey(tenantID: "shop", name: "response_time"))
        all.sort()
        #expect(merged.count == UInt64(all.count))
        #expect(merged.min == all.first && merged.max == all.last)
        #expect(abs(merged.sum - all.reduce(0, +)) <= 1e-9 * abs(merged.sum))
        for (q, estimate) in [(0.5, merged.p50), (0.9, merged.p90), (0.95, merged.p95), (0.99, merged.p99)] {
            let exact = DDSketchTests.exact(all, q)
            #expect(DDSketchTests.withinOnePercent(estimate, exact), "q=\(q): \(estimate) vs exact \(exact)")
        }
        #expect(merged.sketch?.count == merged.count)
    }

    @Test("a union that includes a window without a sketch keeps exact counts and carries no sketch")
    func legacyWindows() {
        var random = SeededRandom(seed: 5)
        var a = Self.window(Self.samples(0, 100, &random), start: Self.t0)
        let b = Self.window(Self.samples(1, 300, &random), start: Self.t0 + .minutes(1))
        a.sketch = nil
        let merged = WindowSummary.merging([a, b], span: WindowSpan(length: .hours(1), start: Self.t0), series: b.series)
        #expect(merged.count == 400)
        #expect(merged.sketch == nil)
        #expect(merged.min == min(a.min, b.min) && merged.max == max(a.max, b.max))
        // The busiest part's percentiles, not a made-up merge.
        #expect(merged.p99 == b.p99)
    }

    @Test("unique visitors of a union of windows are within 2% of the distinct visitors of all of them", arguments: [1_500, 20_000])
    func visitors(distinct: Int) {
        var random = SeededRandom(seed: UInt64(distinct))
        var windows: [VisitsWindowSummary] = []
        var seen = Set<String>()
        var visits: UInt64 = 0
        for m in 0..<60 {
            var hll = HyperLogLog()
            let n = 50 + Int(random.unit() * Double(distinct) / 10)
            for _ in 0..<n {
                let id = "visitor-\(Int(random.unit() * Double(distinct)))"
                hll.add(id)
                seen.insert(id)
            }
            visits += UInt64(n)
            windows.append(VisitsWindowSummary(span: WindowSpan(length: .minutes(1), start: Self.t0 + .minutes(Int64(m))), tenantID: "site", visits: UInt64(n), visitors: hll))
        }
        let hour = WindowRollup.visits(windows, step: .hours(1))
        #expect(hour.count == 1)
        #expect(hour[0].visits == visits)
        let error = abs(Double(hour[0].uniqueVisitors) - Double(seen.count)) / Double(seen.count)
        #expect(error <= 0.02, "\(hour[0].uniqueVisitors) vs \(seen.count) distinct")
        #expect(hour[0].span == WindowSpan(length: .hours(1), start: Self.t0))
    }

    @Test("a roll-up answers one window per series per step, aligned to the epoch, in output order")
    func rollup() {
        var random = SeededRandom(seed: 11)
        var windows: [WindowSummary] = []
        for m in 0..<150 {
            for route in ["/a", "/b"] {
                windows.append(Self.window(Self.samples(0, 10, &random), start: Self.t0 + .minutes(Int64(m)), route: route))
            }
        }
        let hours = WindowRollup.windows(windows.shuffled(using: &random), step: .hours(1))
        #expect(hours.count == 6)
        #expect(hours.map(\.series.labels["route"]) == ["/a", "/b", "/a", "/b", "/a", "/b"])
        #expect(hours.map(\.count) == [600, 600, 600, 600, 300, 300])
        #expect(hours.allSatisfy { $0.span.start.microseconds % 3_600_000_000 == 0 && $0.span.length == .hours(1) })
        #expect(WindowRollup.check(step: .seconds(90), window: .minutes(1)) != nil)
        #expect(WindowRollup.check(step: .hours(1), window: .minutes(1)) == nil)
    }
}
