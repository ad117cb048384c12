import Testing
import SluiceModel
@testable import SluiceServer

/// `quantile_over_time` merges window sketches; the oracle is the exact nearest-rank value of
/// the samples the windows were built from.
@Suite("PromQL quantile_over_time")
struct PromQLQuantileTests {
    static let minute: Int64 = 60_000_000

    /// Window `i` (of one minute, from 0) holding `values`.
    static func window(_ i: Int64, _ values: [Double]) -> PromQL.SketchWindow {
        var sketch = DDSketch()
        for v in values { sketch.add(v) }
        return PromQL.SketchWindow(start: i * minute, end: (i + 1) * minute, sketch: sketch)
    }

    static func series(_ windows: [PromQL.SketchWindow], route: String = "/a") -> PromQL.SketchSeries {
        PromQL.SketchSeries(labels: ["__name__": "response_time", "route": route, "tenant_id": "t", "window": "60s"], windows: windows)
    }

    static func nearestRank(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
    }

    static func evaluate(_ query: String, at minutes: Int64, _ sketches: [PromQL.SketchSeries]) throws -> ([PromQL.Element], [String]) {
        let expression = try PromQL.Parser.parse(query)
        var evaluator = try PromQL.Evaluator(expression, data: PromQL.SeriesSet(sketchSeries: sketches))
        guard case .vector(let v) = try evaluator.evaluate(expression, at: minutes * minute) else { return ([], evaluator.warnings) }
        return (v, evaluator.warnings)
    }

    @Test("the windows inside [t − d, t] merge, and the merged sketch answers within 1% of the exact rank")
    func merged() throws {
        // Ten windows whose values differ a lot: one window alone, or its stored p99, would be far off.
        var all: [Double] = []
        var windows: [PromQL.SketchWindow] = []
        for i in 0..<10 {
            let values = (1...100).map { Double($0) * Double(i + 1) }
            if i >= 5 { all += values }
            windows.append(Self.window(Int64(i), values))
        }
        for q in [0.5, 0.9, 0.99] {
            let (result, warnings) = try Self.evaluate("quantile_over_time(\(q), response_time[5m])", at: 10, [Self.series(windows)])
            let exact = Self.nearestRank(all, q)
            #expect(result.count == 1)
            #expect(warnings.isEmpty)
            #expect(result.first.map { abs($0.value - exact) <= 0.01 * exact } == true, "q=\(q): \(result.first?.value ?? .nan) vs \(exact)")
            #expect(result.first?.labels == ["route": "/a", "tenant_id": "t", "window": "60s"])
        }
    }

    @Test("a window that reaches past t or starts before t − d is left out")
    func edges() throws {
        let windows = [Self.window(0, [1_000]), Self.window(1, [10]), Self.window(2, [20]), Self.window(3, [5_000])]
        // At 3 minutes with d = 2m: windows 1 and 2 lie in [1m, 3m]; 0 starts before, 3 ends after.
        let (result, _) = try Self.evaluate("quantile_over_time(1, response_time[2m])", at: 3, [Self.series(windows)])
        #expect(result.first?.value == 20)
        let (nothing, _) = try Self.evaluate("quantile_over_time(0.5, response_time[30s])", at: 3, [Self.series(windows)])
        #expect(nothing.isEmpty, "no whole window fits in 30 seconds")
    }

    @Test("a window without a sketch leaves its series out, with a warning, rather than a wrong number")
    func missingSketch() throws {
        var old = Self.window(1, [7])
        old.sketch = nil
        let withGap = Self.series([Self.window(0, [5]), old], route: "/old")
        let whole = Self.series([Self.window(0, [5]), Self.window(1, [9])], route: "/new")
        let (result, warnings) = try Self.evaluate("quantile_over_time(0.5, response_time[2m])", at: 2, [withGap, whole])
        #expect(result.map { $0.labels["route"] } == ["/new"])
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("route=\"/old\"") == true)
        #expect(warnings.first?.contains("without their sketch") == true)
    }

    @Test("q outside [0, 1] answers ±Inf, as Prometheus does; the selector's matchers apply")
    func bounds() throws {
        let s = [Self.series([Self.window(0, [1, 2, 3])]), Self.series([Self.window(0, [4])], route: "/b")]
        #expect(try Self.evaluate(#"quantile_over_time(2, response_time{route="/a"}[1m])"#, at: 1, s).0.map(\.value) == [.infinity])
        #expect(try Self.evaluate(#"quantile_over_time(-1, response_time{route="/a"}[1m])"#, at: 1, s).0.map(\.value) == [-.infinity])
        #expect(try Self.evaluate(#"quantile_over_time(0, response_time{route="/b"}[1m])"#, at: 1, s).0.map(\.value) == [4])
    }
}
