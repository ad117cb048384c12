import Testing
import SluiceModel
@testable import SluiceServer

@Suite("PromQL parser")
struct PromQLParserTests {
    typealias E = PromQL.Expression

    static func matcher(_ name: String, _ op: PromQL.Matcher.Operator, _ value: String) -> PromQL.Matcher {
        PromQL.Matcher(name: name, op: op, value: value)
    }

    static func failure(_ query: String) -> String? {
        do {
            _ = try PromQL.Parser.parse(query)
            return nil
        } catch {
            #expect(error.status == .badRequest && error.error == "bad_data", "\(query): \(error)")
            return error.detail
        }
    }

    @Test("a selector with all four matcher kinds, a range and an offset becomes one AST node")
    func selector() throws {
        let parsed = try PromQL.Parser.parse(#"rate(http_requests_total{job="api", code=~"5..", path!='/x', env!~`dev|test`,}[5m] offset 1h)"#)
        var selector = PromQL.Selector(matchers: [
            Self.matcher("__name__", .equal, "http_requests_total"), Self.matcher("job", .equal, "api"),
            Self.matcher("code", .matchesRegex, "5.."), Self.matcher("path", .notEqual, "/x"), Self.matcher("env", .notMatchesRegex, "dev|test"),
        ])
        selector.offset = 3_600_000_000
        #expect(parsed == .call(.rate, [.range(selector, 300_000_000)]))
        #expect(parsed.selections == [PromQL.Selection(selector: selector, range: 300_000_000, sketches: false)])
    }

    @Test("a quoted name alone in braces is the metric name; string escapes follow Go")
    func quotedNames() throws {
        #expect(try PromQL.Parser.parse(#"{"http.requests", "a.b"="x\ty\u00e9"}"#)
            == .selector(PromQL.Selector(matchers: [Self.matcher("__name__", .equal, "http.requests"), Self.matcher("a.b", .equal, "x\tyé")])))
    }

    @Test("both grouping positions mean the same; no clause groups everything together")
    func grouping() throws {
        let x = E.selector(PromQL.Selector(matchers: [Self.matcher("__name__", .equal, "x")]))
        #expect(try PromQL.Parser.parse("sum by (a, b) (x)") == .aggregate(.sum, .by(["a", "b"]), x))
        #expect(try PromQL.Parser.parse("sum(x) by (a, b,)") == .aggregate(.sum, .by(["a", "b"]), x))
        #expect(try PromQL.Parser.parse("max without (c) (x)") == .aggregate(.max, .without(["c"]), x))
        #expect(try PromQL.Parser.parse("count(x)") == .aggregate(.count, .by([]), x))
    }

    @Test("arithmetic follows Prometheus' precedence: ^ is right-associative and binds tighter than unary minus",
          arguments: [("-2^2", -4.0), ("2^3^2", 512), ("2*3+4", 10), ("2+3*4", 14), ("10-4-3", 3), ("7 % 4 * 2", 6),
                      ("(1+1)*3", 6), ("2^-1", 0.5), ("0x10 + 1e1", 26), ("-(3)", -3)])
    func precedence(query: String, expected: Double) throws {
        let expression = try PromQL.Parser.parse(query)
        var evaluator = try PromQL.Evaluator(expression, data: .init())
        #expect(try evaluator.evaluate(expression, at: 0) == .scalar(expected))
    }

    @Test("durations: units largest first, each once; seconds as a number in parameters")
    func durations() {
        #expect(PromDuration.parse("1h30m") == 5_400_000_000)
        #expect(PromDuration.parse("500ms") == 500_000)
        #expect(PromDuration.parse("1y") == Int64(365) * 86_400_000_000)
        #expect(PromDuration.parse("2w1d") == Int64(15) * 86_400_000_000)
        #expect(PromDuration.parse("5m1h") == nil)
        #expect(PromDuration.parse("1.5h") == nil)
        #expect(PromDuration.parse("") == nil)
        #expect(PromDuration.parse("999999999999y") == nil, "longer than Sluice accepts")
        #expect(PromDuration.parseParameter("15") == 15_000_000)
        #expect(PromDuration.parseParameter("0.5") == 500_000)
        #expect(PromDuration.parseParameter("1e300") == nil)
        #expect(PromDuration.parseParameter("NaN") == nil)
        #expect(PromDuration.format(5_400_000_000) == "1h30m")
    }

    @Test("unsupported constructs are bad_data naming the construct", arguments: [
        ("histogram_quantile(0.9, x)", "histogram_quantile"), ("x[5m:1m]", "subquery"), ("rate(x[5m])[10m:]", "subquery"),
        ("x @ 1700000000", "@ modifier"), ("a + b", "two instant vectors"), ("a > 1", "\">\""), ("a and b", "\"and\""),
        ("topk(3, x)", "topk"), ("quantile by (a) (0.9, x)", "quantile"), ("\"text\"", "string literal"),
        ("a * on(b) 2", "\"on\""), ("irate(x[5m])", "irate"),
    ])
    func unsupported(query: String, named: String) {
        let detail = Self.failure(query)
        #expect(detail?.contains(named) == true, "\(query): \(detail ?? "parsed")")
        #expect(detail?.contains("not supported") == true)
    }

    @Test("malformed queries are bad_data with the position and reason", arguments: [
        ("{}", "non-empty matcher"), (#"{a=~".*"}"#, "non-empty matcher"), ("rate(x)", "expected type range vector"),
        ("sum(x[5m])", "expected type instant vector"), (#"x{a=~"("}"#, "invalid regular expression"), (#"x{a="b}"#, "unterminated"),
        (#"foo{__name__="bar"}"#, "set twice"), ("rate(x[5m]", "end of input in call to rate"), ("x[0s]", "range must be positive"),
        ("", "no expression"), ("1 +", "unexpected end of input"), ("x offset", "duration after offset"), ("x[5m] + 1", "scalar and instant vector"),
        ("-x[5m]", "unary expression"), ("quantile_over_time(0.9, response_time:p99[1h])", "name the series (\"response_time\")"),
        ("max_over_time(x[5m], 2)", "expected 1 argument"), ("x ~ y", "unexpected character"),
    ])
    func malformed(query: String, reason: String) {
        let detail = Self.failure(query)
        #expect(detail?.contains(reason) == true, "\(query): \(detail ?? "parsed")")
    }

    @Test("deep nesting and long operator chains are refused before they can exhaust a stack; up to the limits they evaluate")
    func limits() throws {
        let deep = String(repeating: "(", count: 5_000) + "1" + String(repeating: ")", count: 5_000)
        #expect(Self.failure(deep)?.contains("nested more than 64 levels") == true)
        #expect(Self.failure(String(repeating: "-", count: 5_000) + "1")?.contains("nested more than") == true)
        #expect(Self.failure(Array(repeating: "1", count: 5_000).joined(separator: "+"))?.contains("more than 128 binary operators") == true)
        let nested = String(repeating: "sum(", count: 30) + "m" + String(repeating: ")", count: 30)
        let chain = Array(repeating: "m", count: 1) + Array(repeating: "2", count: 128)
        for query in [nested, chain.joined(separator: " * ")] {
            let expression = try PromQL.Parser.parse(query)
            let data = PromQL.SeriesSet(series: [PromQL.Series(labels: ["__name__": "m"], samples: [PromQL.Sample(time: 0, value: 1)])])
            var evaluator = try PromQL.Evaluator(expression, data: data)
            guard case .vector(let v) = try evaluator.evaluate(expression, at: 0) else { Issue.record("not a vector"); continue }
            #expect(v.count == 1)
        }
    }

    @Test("the position of a parse error is line:column")
    func position() {
        #expect(Self.failure("sum(x)\n  + ?")?.contains("2:5: parse error") == true)
    }

    @Test("regular expressions are fully anchored, and . matches a newline, as in Prometheus")
    func anchoring() throws {
        let api = try PromQL.LabelFilter([Self.matcher("job", .matchesRegex, "api|web")])
        #expect(api.matches(["job": "api"]))
        #expect(api.matches(["job": "web"]))
        #expect(!api.matches(["job": "api-2"]))
        #expect(!api.matches(["job": "my-api"]))
        #expect(try PromQL.LabelFilter([Self.matcher("m", .matchesRegex, "a.b")]).matches(["m": "a\nb"]))
        let not = try PromQL.LabelFilter([Self.matcher("job", .notMatchesRegex, "api.*")])
        #expect(!not.matches(["job": "api-2"]))
        #expect(not.matches(["job": "xapi"]))
        #expect(not.matches([:]), "a missing label is the empty string")
        #expect(throws: APIError.self) { try PromQL.LabelFilter([Self.matcher("j", .matchesRegex, "a)|(b")]) }
    }
}
