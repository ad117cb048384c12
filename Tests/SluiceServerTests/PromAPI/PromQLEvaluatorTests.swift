import Testing
import SluiceModel
@testable import SluiceServer

/// Expected values are computed by hand from Prometheus' documented semantics (the
/// extrapolation of `rate`, the left-open range `(t − d, t]`, the 5m lookback), never by
/// calling the evaluator.
@Suite("PromQL evaluator")
struct PromQLEvaluatorTests {
    static let s: Int64 = 1_000_000

    /// A series from (seconds, value) pairs.
    static func series(_ name: String, _ labels: Labels, _ points: [(Int64, Double)]) -> PromQL.Series {
        PromQL.Series(labels: labels.setting("__name__", to: name), samples: points.map { PromQL.Sample(time: $0.0 * s, value: $0.1) })
    }

    static func series(_ name: String, _ points: [(Int64, Double)]) -> PromQL.Series { series(name, .empty, points) }

    static func evaluate(_ query: String, at seconds: Int64, _ series: [PromQL.Series], sketches: [PromQL.SketchSeries] = []) throws -> PromQL.Value {
        let expression = try PromQL.Parser.parse(query)
        var evaluator = try PromQL.Evaluator(expression, data: PromQL.SeriesSet(series: series, sketchSeries: sketches))
        return try evaluator.evaluate(expression, at: seconds * s)
    }

    /// The values of a vector result by one label's value ("" when absent).
    static func values(_ value: PromQL.Value, by label: String) -> [String: Double] {
        guard case .vector(let elements) = value else { return [:] }
        return Dictionary(uniqueKeysWithValues: elements.map { ($0.labels[label] ?? "", $0.value) })
    }

    static func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) <= 1e-9 * max(1, abs(b)) } ?? false }

    // Samples at 15, 75, 135, 195 (a reset to 5), 255 s; evaluated at 300 s over [5m] (range start 0).
    // Change: 35 − 10, plus 70 lost at the reset = 95. Start gap 15 s and end gap 45 s are both under
    // 1.1 × the 60 s average interval, and the zero point (240 × 10/95 ≈ 25 s back) is further than
    // the start gap, so the change is extrapolated to the whole 300 s: 95 × 300/240 = 118.75.
    static let counter = series("requests_total", ["job": "api"], [(15, 10), (75, 40), (135, 70), (195, 5), (255, 35)])

    @Test("increase and rate add back counter resets and extrapolate to the range's edges")
    func increaseAndRate() throws {
        #expect(Self.close(Self.values(try Self.evaluate("increase(requests_total[5m])", at: 300, [Self.counter]), by: "job")["api"], 118.75))
        #expect(Self.close(Self.values(try Self.evaluate("rate(requests_total[5m])", at: 300, [Self.counter]), by: "job")["api"], 118.75 / 300))
    }

    @Test("a counter is not extrapolated below zero, and far edges get half an interval")
    func zeroPoint() throws {
        // Samples at 100, 160, 220 s: 2, 8, 14; at 300 s over [5m]. The start gap (100 s) and end gap
        // (80 s) exceed 1.1 × 60 s, so each becomes 30 s; the zero point is 120 × 2/12 = 20 s back,
        // nearer than 30, so 20. Increase: 12 × (120 + 20 + 30)/120 = 17.
        let c = Self.series("c", [(100, 2), (160, 8), (220, 14)])
        #expect(Self.close(Self.values(try Self.evaluate("increase(c[5m])", at: 300, [c]), by: "")[""], 17))
        #expect(Self.close(Self.values(try Self.evaluate("rate(c[5m])", at: 300, [c]), by: "")[""], 17.0 / 300))
    }

    @Test("delta treats a drop as a change, not a reset")
    func delta() throws {
        // 10, 4, 7 at 30, 90, 150 s, at 180 s over [3m]: −3 over 120 s, edges 30 s each: −3 × 180/120.
        let g = Self.series("g", [(30, 10), (90, 4), (150, 7)])
        #expect(Self.close(Self.values(try Self.evaluate("delta(g[3m])", at: 180, [g]), by: "")[""], -4.5))
        #expect(Self.values(try Self.evaluate("delta(g[1m])", at: 180, [g]), by: "").isEmpty, "one sample is not enough")
    }

    @Test("the *_over_time functions over (t − d, t]; a sample exactly d before t is outside")
    func overTime() throws {
        let m = Self.series("m", ["host": "a"], [(0, 9), (60, 3), (120, 1), (180, 4), (240, 1), (300, 5)])
        let expected: [(String, Double)] = [("avg", 2.8), ("sum", 14), ("min", 1), ("max", 5), ("count", 5), ("last", 5)]
        for (function, value) in expected {
            let result = Self.values(try Self.evaluate("\(function)_over_time(m[5m])", at: 300, [m]), by: "host")
            #expect(Self.close(result["a"], value), "\(function)_over_time")
        }
        guard case .vector(let last) = try Self.evaluate("last_over_time(m[5m])", at: 300, [m]),
              case .vector(let max) = try Self.evaluate("max_over_time(m[5m])", at: 300, [m]) else { Issue.record("not a vector"); return }
        #expect(last.first?.labels["__name__"] == "m", "last_over_time keeps the name")
        #expect(max.first?.labels["__name__"] == nil, "other functions drop it")
    }

    @Test("an instant selector takes the latest sample of the last 5 minutes, offset moves the time back")
    func lookback() throws {
        let m = Self.series("m", [(0, 1), (100, 2)])
        #expect(Self.values(try Self.evaluate("m", at: 99, [m]), by: "")[""] == 1)
        #expect(Self.values(try Self.evaluate("m", at: 399, [m]), by: "")[""] == 2)
        #expect(Self.values(try Self.evaluate("m", at: 400, [m]), by: "").isEmpty, "the sample at 100 s is 5 minutes old")
        #expect(Self.values(try Self.evaluate("m offset 5m", at: 399, [m]), by: "")[""] == 1)
        #expect(Self.values(try Self.evaluate("m offset -1m", at: 50, [m]), by: "")[""] == 2)
    }

    @Test("selectors match labels, tenant_id included, and names by regex")
    func matching() throws {
        let data = [Self.series("cpu", ["host": "a", "tenant_id": "t1"], [(10, 1)]), Self.series("cpu", ["host": "b", "tenant_id": "t2"], [(10, 2)]),
                    Self.series("cpu_total", ["host": "c"], [(10, 3)])]
        #expect(Self.values(try Self.evaluate(#"cpu{tenant_id="t2"}"#, at: 20, data), by: "host") == ["b": 2])
        #expect(Self.values(try Self.evaluate(#"{__name__=~"cpu.*", host!="a"}"#, at: 20, data), by: "host") == ["b": 2, "c": 3])
        #expect(Self.values(try Self.evaluate(#"cpu{tenant_id=""}"#, at: 20, data), by: "host").isEmpty)
        #expect(Self.values(try Self.evaluate(#"{__name__=~"cpu", host=~"a|c"}"#, at: 20, data), by: "host") == ["a": 1])
    }

    @Test("sum, avg, min, max and count by and without")
    func aggregation() throws {
        let data = [Self.series("m", ["dc": "x", "host": "a"], [(10, 1)]), Self.series("m", ["dc": "x", "host": "b"], [(10, 5)]),
                    Self.series("m", ["dc": "y", "host": "c"], [(10, 4)])]
        #expect(Self.values(try Self.evaluate("sum by (dc) (m)", at: 20, data), by: "dc") == ["x": 6, "y": 4])
        #expect(Self.values(try Self.evaluate("avg without (host) (m)", at: 20, data), by: "dc") == ["x": 3, "y": 4])
        #expect(Self.values(try Self.evaluate("min(m) by (dc)", at: 20, data), by: "dc") == ["x": 1, "y": 4])
        #expect(Self.values(try Self.evaluate("max(m)", at: 20, data), by: "dc") == ["": 5])
        #expect(Self.values(try Self.evaluate("count by (dc) (m)", at: 20, data), by: "dc") == ["x": 2, "y": 1])
        guard case .vector(let without) = try Self.evaluate("sum without (host) (m)", at: 20, data) else { return }
        #expect(Set(without.map(\.labels)) == [["dc": "x"], ["dc": "y"]], "without drops the name too")
    }

    @Test("arithmetic with a scalar applies to every element and drops the name")
    func arithmetic() throws {
        let data = [Self.series("m", ["host": "a"], [(10, 3)])]
        guard case .vector(let v) = try Self.evaluate("2 * m - 1", at: 20, data) else { Issue.record("not a vector"); return }
        #expect(v == [PromQL.Element(labels: ["host": "a"], value: 5)])
        #expect(Self.values(try Self.evaluate("-m", at: 20, data), by: "host") == ["a": -3])
        #expect(Self.values(try Self.evaluate("10 / m", at: 20, data), by: "host")["a"].map { abs($0 - 10.0 / 3) < 1e-12 } == true)
    }

    @Test("a function that leaves two series with one label set is an execution error")
    func duplicateLabelSets() {
        let data = [Self.series("a", ["x": "1"], [(10, 1), (20, 2)]), Self.series("b", ["x": "1"], [(10, 1), (20, 2)])]
        #expect {
            _ = try Self.evaluate(#"rate({__name__=~"a|b"}[1m])"#, at: 30, data)
        } throws: { error in
            (error as? APIError).map { $0.status == .unprocessableContent && $0.error == "execution" } ?? false
        }
    }

    @Test("a range query evaluates at every step from start through end; a range vector is refused")
    func rangeQuery() throws {
        let m = Self.series("m", [(0, 1), (60, 2), (120, 3)])
        let expression = try PromQL.Parser.parse("m * 10")
        var evaluator = try PromQL.Evaluator(expression, data: PromQL.SeriesSet(series: [m]))
        let matrix = try evaluator.evaluate(expression, from: 30 * Self.s, through: 150 * Self.s, step: 30 * Self.s)
        #expect(matrix.count == 1)
        #expect(matrix.first?.samples.map { $0.value } == [10, 20, 20, 30, 30])
        #expect(matrix.first?.samples.map { $0.time } == [30, 60, 90, 120, 150].map { $0 * Self.s })
        let range = try PromQL.Parser.parse("m[1m]")
        var rangeEvaluator = try PromQL.Evaluator(range, data: .init())
        #expect(throws: APIError.self) { try rangeEvaluator.evaluate(range, from: 0, through: 60 * Self.s, step: Self.s) }
    }

    @Test("an instant query of a range selector answers the raw samples in the range")
    func rawMatrix() throws {
        let m = Self.series("m", ["k": "v"], [(0, 1), (60, 2), (120, 3)])
        #expect(try Self.evaluate("m[2m]", at: 120, [m]) == .matrix([Self.series("m", ["k": "v"], [(60, 2), (120, 3)])]))
    }
}
