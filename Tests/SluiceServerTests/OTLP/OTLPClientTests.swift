import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// The real OpenTelemetry SDK (PyPI `opentelemetry-sdk`) exports to a live Sluice through its
/// protobuf and JSON OTLP/HTTP exporters (`opentelemetry-exporter-otlp-proto-http`,
/// `opentelemetry-exporter-otlp-json-http`), installed by `scripts/setup --tests`. The client
/// script (`Fixtures/otlp/otlp_client.py`) prints its own record of what it sent, and Sluice's
/// windows and token meter must match it exactly.
@Suite("OpenTelemetry SDK exports to Sluice over OTLP/HTTP", .serialized, .timeLimit(.minutes(10)))
struct OTLPClientTests {
    static let tenant = "acme"

    static func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }

    /// What the windows of one series name add up to, per value of `label` (all together when nil).
    struct Totals: Equatable, CustomStringConvertible {
        var count = 0
        var sum = 0.0
        var min = Double.infinity
        var max = -Double.infinity
        var description: String { "count \(count) sum \(sum) min \(min) max \(max)" }
    }

    static func totals(_ server: LiveServer, metric: String, by label: String? = nil) async throws -> [String: Totals] {
        let reply = try await server.request("GET", TestPeer.query("/api/v2/analytics/aggregate", [("tenant", tenant), ("metric", metric)]))
        var out: [String: Totals] = [:]
        for window in reply.json as? [[String: Any]] ?? [] {
            let key = label.flatMap { (window["labels"] as? [String: String])?[$0] } ?? "all"
            var t = out[key] ?? Totals()
            t.count += (window["count"] as? NSNumber)?.intValue ?? 0
            t.sum += (window["sum"] as? NSNumber)?.doubleValue ?? 0
            t.min = Swift.min(t.min, (window["min"] as? NSNumber)?.doubleValue ?? .infinity)
            t.max = Swift.max(t.max, (window["max"] as? NSNumber)?.doubleValue ?? -.infinity)
            out[key] = t
        }
        return out
    }

    static func expected(_ account: Any?) -> Totals {
        let a = account as? [String: Any] ?? [:]
        return Totals(count: (a["count"] as? NSNumber)?.intValue ?? -1, sum: (a["sum"] as? NSNumber)?.doubleValue ?? .nan,
                      min: (a["min"] as? NSNumber)?.doubleValue ?? .nan, max: (a["max"] as? NSNumber)?.doubleValue ?? .nan)
    }

    /// Polls `read` until it equals `expected` (the pipeline takes records asynchronously), for
    /// at most a minute; returns the last answer.
    static func settled<T: Equatable>(_ expected: T, _ read: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(60)
        var last = try await read()
        while last != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            last = try await read()
        }
        return last
    }

    @Test("counters, histograms and spans the SDK exported (protobuf and JSON, cumulative and delta) match Sluice's windows exactly")
    func sdkExports() async throws {
        let python = try TestPeer.path("python3")
        let server = try await LiveServer.start()
        try await server.serving { server in
            let base = "http://127.0.0.1:\(server.bound.http!)"
            let run = try await TestPeer.run(python, [FixtureLocator.fixtures() + "/otlp/otlp_client.py", base, Self.tenant], timeout: 600)
            if run.stderr.contains("No module named") {
                Issue.record("the OpenTelemetry SDK or its exporters are not installed: run `scripts/setup --tests`: \(run.stderr)")
                return
            }
            #expect(run.status == 0, "\(run.stderr)")
            #expect(!run.stderr.contains("Failed to export"), "\(run.stderr)")
            let sent = try #require(Self.json(run.stdout) as? [String: Any], "\(run.stdout)\(run.stderr)")
            for export in sent["exports"] as? [[Any]] ?? [] { #expect(export.last as? Bool == true, "\(export)") }
            let metrics = sent["metrics"] as? [String: Any] ?? [:]

            // Counters: what was added, per route; cumulative (protobuf) and delta (JSON) alike.
            let routes = metrics["py.requests"] as? [String: Int] ?? [:]
            let counted = try await Self.settled(routes) {
                try await Self.totals(server, metric: "py.requests", by: "route").mapValues { Int($0.sum) }
            }
            #expect(counted == routes)
            let jsonCount = (metrics["pyjson.requests"] as? [String: Int])?["all"]
            let jsonCounted = try await Self.settled(jsonCount) { try await Self.totals(server, metric: "pyjson.requests")["all"].map { Int($0.sum) } }
            #expect(jsonCounted == jsonCount)

            // Histograms and the gauge: count, sum, min and max exactly.
            for name in ["py.latency", "py.payload", "pyjson.latency", "py.gauge"] {
                let want = Self.expected(metrics[name])
                let got = try await Self.settled(want) { try await Self.totals(server, metric: name)["all"] ?? Totals() }
                #expect(got == want, "\(name)")
            }

            // HTTP server spans: response times per route, in milliseconds.
            for (route, durations) in sent["spans"] as? [String: [Double]] ?? [:] {
                let want = Totals(count: durations.count, sum: durations.reduce(0, +), min: durations.min()!, max: durations.max()!)
                let got = try await Self.settled(want) { try await Self.totals(server, metric: "response_time", by: "route")[route] ?? Totals() }
                #expect(got == want, "\(route)")
            }

            // The GenAI span, exported twice (protobuf, then JSON), is counted once.
            let tokens = sent["tokens"] as? [String: Any] ?? [:]
            let want = [tokens["model"] as? String ?? "?", "\(tokens["prompt_tokens"]!)", "\(tokens["completion_tokens"]!)",
                        "\(tokens["cached_tokens"]!)", "\(tokens["requests"]!)"]
            let usage = try await Self.settled(want) {
                let reply = try await server.request("GET", "/api/v2/analytics/tokens?tenant=\(Self.tenant)&period=day")
                let rows = reply.json as? [[String: Any]] ?? []
                return rows.flatMap { row in ["model", "prompt_tokens", "completion_tokens", "cached_tokens", "requests"].map { "\(row[$0] ?? "-")" } }
            }
            #expect(usage == want)

            // partial_success, read by the protobuf library in both encodings.
            for (encoding, answer) in sent["partial_success"] as? [String: [String: Any]] ?? [:] {
                #expect(answer["status"] as? Int == 200, "\(encoding)")
                #expect(answer["rejected"] as? Int == 1, "\(encoding)")
                #expect((answer["message"] as? String)?.contains(#"metric "py.summary" data point 1: summary points are not supported"#) == true, "\(encoding): \(answer)")
                #expect(answer["content_type"] as? String == (encoding == "json" ? "application/json" : "application/x-protobuf"))
            }

            // The counters on /metrics: the internal span skipped, the two summaries refused.
            let scrape = try await server.request("GET", "/metrics").body
            #expect(scrape.contains(#"sluice_protocol_skipped_total{protocol="otlp_traces"} \#(tokens["skipped_spans"]!)"#), "\(scrape)")
            #expect(scrape.contains(#"sluice_protocol_rejected_total{protocol="otlp_metrics"} 2"#))
        }
    }

    @Test("malformed bodies get 400 with the position and reason, other media types 415, and the server keeps taking exports")
    func malformedBodies() async throws {
        let server = try await LiveServer.start()
        try await server.serving { server in
            let cases: [(String, String, String?, Int, String)] = [
                ("/v1/metrics", "\n\u{7F}abc", "application/x-protobuf", 400, "invalid protobuf at byte 0: field 1 claims 127 bytes"),
                ("/v1/traces", "\u{0B}", "application/x-protobuf", 400, "deprecated group encoding"),
                ("/v1/metrics", #"{"resourceMetrics": [{"scopeMetrics": 7}]}"#, "application/json", 400, "resourceMetrics[0].scopeMetrics must be an array"),
                ("/v1/traces", #"{"resourceSpans": ["#, "application/json", 400, "invalid JSON at byte 19"),
                ("/v1/traces", #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#, "application/json", 400, "traceId must be a hex string"),
                ("/v1/metrics", "{}", "text/plain", 415, "send application/x-protobuf or application/json"),
            ]
            for (path, body, contentType, status, reason) in cases {
                let reply = try await server.request("POST", path, body: body, contentType: contentType)
                #expect(reply.status == status, "\(path) \(body): \(reply.body)")
                let detail = (reply.json as? [String: Any])?["detail"] as? String
                #expect(detail?.contains(reason) == true, "\(reply.body)")
            }
            #expect(try await server.request("GET", "/healthz").status == 200)
            let gauge = #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"after","gauge":{"dataPoints":[{"asDouble":2.5}]}}]}]}]}"#
            let after = try await server.request("POST", "/v1/metrics", body: gauge, contentType: "application/json")
            #expect(after.status == 200)
            #expect(after.body == "{}")
            let scrape = try await server.request("GET", "/metrics").body
            #expect(scrape.contains(#"sluice_protocol_refused_total{protocol="otlp_traces"} 3"#), "\(scrape)")
        }
    }
}
