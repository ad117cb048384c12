import Testing
import SluiceModel
@testable import SluiceServer

@Suite("Prometheus envelope, parameters and series mapping")
struct PromResponseTests {
    @Test("values print as Go's FormatFloat(v, 'f', -1, 64): shortest digits, no exponent", arguments: [
        (1.0, "1"), (0.1, "0.1"), (-2.5, "-2.5"), (1e21, "1000000000000000000000"), (1e-7, "0.0000001"),
        (1.5e-10, "0.00000000015"), (123456789.125, "123456789.125"), (0.30000000000000004, "0.30000000000000004"),
        (.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"), (1234.5e20, "123450000000000000000000"),
    ])
    func values(value: Double, text: String) {
        #expect(PromResponse.format(value) == text)
        if value.isFinite { #expect(Double(text) == value, "round-trips") }
    }

    @Test("a vector result has resultType, metric labels and [seconds, \"value\"] with microsecond times")
    func vector() {
        var json = JSONWriter()
        PromResponse.write(.vector([PromQL.Element(labels: ["__name__": "cpu", "host": "a\"b"], value: 0.5)]), at: 1_700_000_000_250_000, to: &json)
        #expect(String(decoding: json.bytes, as: UTF8.self)
            == #"{"resultType":"vector","result":[{"metric":{"__name__":"cpu","host":"a\"b"},"value":[1700000000.25,"0.5"]}]}"#)
    }

    @Test("errors carry Prometheus' errorType and the status")
    func error() {
        let response = PromResponse.error(.badData("invalid parameter \"step\""))
        #expect(response.status == .badRequest)
        let internalError = PromResponse.error(APIError(.internalServerError, "store_error", "disk"))
        #expect(internalError.status == .internalServerError)
    }

    @Test("form and query strings: + is a space, percent escapes decode, match[] repeats")
    func parameters() throws {
        let p = PromParameters(PromParameters.decode("query=sum%28x%29+by+%28a%29&match%5B%5D=a&match[]=b%7Bc%3D%22d%22%7D&empty=&bad=%zz"))
        #expect(p["query"] == "sum(x) by (a)")
        #expect(p.all("match[]") == ["a", #"b{c="d"}"#])
        #expect(p["empty"] == "")
        #expect(p["bad"] == "%zz")
        #expect(p["missing"] == nil)
    }

    @Test("time parameters: RFC 3339, Unix seconds, or a client's no-bound value; anything else is bad_data", arguments: [
        ("1700000000.5", Int64(1_700_000_000_500_000) as Int64?), ("2023-11-14T22:13:20Z", 1_700_000_000_000_000),
        ("-292273086-05-16T16:47:06Z", nil), ("292277025-08-18T07:12:54.999999999Z", nil),
    ])
    func times(text: String, micros: Int64?) throws {
        #expect(try PromParameters([("t", text)]).time("t") == micros)
    }

    @Test("out-of-range times are refused, never trapped", arguments: ["1e300", "-1", "NaN", "Inf", "10000-01-01T00:00:00Z", "tomorrow", ""])
    func badTimes(text: String) {
        #expect(throws: APIError.self) { try PromParameters([("t", text)]).time("t") }
    }

    @Test("out-of-range durations are refused, never trapped", arguments: ["1e300", "NaN", "Inf", "tomorrow", "5x", "", "9999999999999999d"])
    func badDurations(text: String) {
        #expect(throws: APIError.self) { try PromParameters([("step", text)]).duration("step") }
    }

    @Test("a window becomes name:stat samples at its end, with window and tenant_id labels that win over the record's")
    func windowSeries() {
        let w = WindowSummary(span: WindowSpan(length: .minutes(1), start: Timestamp(seconds: 600)),
                              series: SeriesKey(tenantID: "t", name: "response_time", labels: ["route": "/a", "window": "mine"]),
                              count: 4, sum: 10, min: 1, max: 4, p50: 2, p90: 4, p95: 4, p99: 4)
        let values = Dictionary(uniqueKeysWithValues: PromSeriesSource.statisticValues(w))
        #expect(values == ["count": 4, "sum": 10, "min": 1, "max": 4, "mean": 2.5, "p50": 2, "p90": 4, "p95": 4, "p99": 4])
        #expect(PromSeriesSource.labels(w.series.labels, name: "response_time:p99", tenant: "t", window: w.span.length)
            == ["__name__": "response_time:p99", "route": "/a", "tenant_id": "t", "window": "60s"])
        #expect(PromSeriesSource.labels(["host": "a"], name: "cpu", tenant: nil) == ["__name__": "cpu", "host": "a"], "no tenant, no tenant_id")
        #expect(PromSeriesSource.windowBase("response_time:p99") == "response_time")
        #expect(PromSeriesSource.windowBase("a:b:mean") == "a:b")
        #expect(PromSeriesSource.windowBase("job:rate5m") == nil)
    }

    @Test("cache and visits windows give their series; no hit ratio without lookups")
    func otherWindows() {
        let span = WindowSpan(length: .minutes(1), start: Timestamp(seconds: 0))
        let cache = PromSeriesSource.samples(of: .cacheWindow(CacheWindowSummary(span: span, tenantID: "t", cache: "users", labels: .empty, hits: 3, misses: 1, sizeKB: 64)))
        let byName = Dictionary(uniqueKeysWithValues: cache.map { ($0.0["__name__"]!, $0.1.value) })
        #expect(byName == ["cache_hits": 3, "cache_misses": 1, "cache_size_kb": 64, "cache_hit_ratio": 0.75])
        #expect(cache.allSatisfy { $0.0["cache"] == "users" && $0.0["window"] == "60s" && $0.1.time == 60_000_000 })
        let idle = PromSeriesSource.samples(of: .cacheWindow(CacheWindowSummary(span: span, tenantID: "t", cache: nil, labels: .empty, hits: 0, misses: 0, sizeKB: 1)))
        #expect(!idle.contains { $0.0["__name__"] == "cache_hit_ratio" })
        let visits = PromSeriesSource.samples(of: .visitsWindow(VisitsWindowSummary(span: span, tenantID: "site", visits: 10, uniqueVisitors: 7)))
        #expect(visits.map { $0.0 } == [["__name__": "visits", "tenant_id": "site", "window": "60s"], ["__name__": "unique_visitors", "tenant_id": "site", "window": "60s"]])
        #expect(visits.map(\.1.value) == [10, 7])
    }
}
