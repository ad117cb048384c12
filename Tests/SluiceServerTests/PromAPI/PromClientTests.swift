import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// Real Prometheus clients read Sluice: promtool (Go, Prometheus' own client library) and
/// the Python `prometheus-api-client`. Both are installed by `scripts/setup --tests`.
@Suite("Real Prometheus clients read Sluice", .serialized, .timeLimit(.minutes(10)))
struct PromClientTests {
    static func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }

    /// Label sets (without `__name__`) → value, from a list of `{metric, value}`.
    static func vector(_ result: Any?) -> [[String: String]: Double] {
        var out: [[String: String]: Double] = [:]
        for r in result as? [[String: Any]] ?? [] {
            var labels = r["metric"] as? [String: String] ?? [:]
            labels["__name__"] = nil
            out[labels] = ((r["value"] as? [Any])?.last as? String).flatMap(Double.init)
        }
        return out
    }

    /// Per-second slopes of the counters in `PromTestData`, by (job, tenant).
    static let slopes: [[String: String]: Double] = [
        ["job": "api", "tenant_id": "site-a"]: 2, ["job": "web", "tenant_id": "site-a"]: 1.25, ["job": "api", "tenant_id": "site-b"]: 0.5,
    ]

    static func sums(_ data: PromTestData, at t: Int64, tenants: Set<String> = ["site-a", "site-b"]) -> [[String: String]: Double] {
        var out: [[String: String]: Double] = [:]
        for (s, v) in data.latest(at: t) where s.name == "temperature" && tenants.contains(s.tenant) { out[["tenant_id": s.tenant], default: 0] += v }
        return out
    }

    @Test("promtool query instant, range, series and labels read Sluice and get the right numbers")
    func promtool() async throws {
        let promtool = try TestPeer.path("promtool")
        let data = PromTestData()
        let server = try await LiveServer.loaded(records: data.records)
        try await server.serving { server in
            let url = "http://127.0.0.1:\(server.bound.http!)"
            let t = data.base + 900

            let instant = try await TestPeer.run(promtool, ["query", "instant", "-o", "json", "--time=\(t)", url, "sum by (tenant_id) (temperature)"])
            #expect(instant.status == 0, "\(instant.stderr)")
            #expect(Self.vector(Self.json(instant.stdout)) == Self.sums(data, at: t))

            let text = try await TestPeer.run(promtool, ["query", "instant", "--time=\(t)", url, #"temperature{tenant_id="site-a",room="r2"}"#])
            let r2 = data.latest(at: t).first { $0.key.name == "temperature" && $0.key.labels["room"] == "r2" }!.value
            #expect(text.stdout.contains(#"temperature{room="r2", tenant_id="site-a"} => \#(PromResponseFormat.value(r2))"#), "\(text.stdout)\(text.stderr)")

            let range = try await TestPeer.run(promtool, ["query", "range", "-o", "json", "--start=\(t - 300)", "--end=\(t)", "--step=60s", url,
                                                          "rate(http_requests_total[5m])"])
            #expect(range.status == 0, "\(range.stderr)")
            let matrix = Self.json(range.stdout) as? [[String: Any]] ?? []
            #expect(matrix.count == 3)
            for series in matrix {
                let labels = series["metric"] as? [String: String] ?? [:]
                let values = (series["values"] as? [[Any]] ?? []).compactMap { ($0.last as? String).flatMap(Double.init) }
                #expect(values.count == 6)
                let slope = try #require(Self.slopes[labels])
                #expect(values.allSatisfy { abs($0 - slope) < 1e-9 }, "\(labels): \(values)")
            }

            let series = try await TestPeer.run(promtool, ["query", "series", "-o", "json", "--match=temperature", "--start=\(data.first)", "--end=\(data.last)", url])
            #expect(series.status == 0, "\(series.stderr)")
            let sets = Self.json(series.stdout) as? [[String: String]] ?? []
            #expect(Set(sets.map { "\($0["room"] ?? "")@\($0["tenant_id"] ?? "")" }) == ["r1@site-a", "r2@site-a", "r1@site-b"])
            #expect(sets.count == 3)
            #expect(sets.allSatisfy { $0["__name__"] == "temperature" })

            let labels = try await TestPeer.run(promtool, ["query", "labels", "-o", "json", url, "room"])
            #expect(labels.status == 0, "\(labels.stderr)")
            #expect(Self.json(labels.stdout) as? [String] == ["r1", "r2"])
        }
    }

    /// The Python client's calls, each result printed as one JSON object.
    static let pythonScript = """
        import json, sys
        from datetime import datetime, timedelta, timezone
        from prometheus_api_client import PrometheusConnect
        url, token, t = sys.argv[1], sys.argv[2], float(sys.argv[3])
        end = datetime.fromtimestamp(t, tz=timezone.utc)
        get = PrometheusConnect(url=url, headers={"Authorization": "Bearer " + token}, disable_ssl=True)
        post = PrometheusConnect(url=url, headers={"Authorization": "Bearer " + token}, disable_ssl=True, method="POST")
        print(json.dumps({
            "connected": get.check_prometheus_connection(),
            "metrics": get.all_metrics(),
            "sums": get.custom_query("sum by (tenant_id) (temperature)", params={"time": t}),
            "posted": post.custom_query("sum by (tenant_id) (temperature)", params={"time": t}),
            "rates": get.custom_query_range("rate(http_requests_total[5m])", start_time=end - timedelta(minutes=5), end_time=end, step="60"),
            "raw": get.get_metric_range_data("temperature", label_config={"room": "r1"}, start_time=end - timedelta(minutes=2), end_time=end),
            "tenants": get.get_label_values("tenant_id"),
            "metadata": get.get_metric_metadata("temperature:p99"),
        }))
        """

    @Test("prometheus-api-client (Python) reads Sluice with a tenant token: its tenant's numbers, nobody else's")
    func pythonClient() async throws {
        let python = try TestPeer.path("python3")
        let data = PromTestData()
        let server = try await LiveServer.loaded(PromAPILiveTests.tokens, records: data.records, token: PromAPILiveTests.admin)
        try await server.serving { server in
            let t = data.base + 900
            let run = try await TestPeer.run(python, ["-c", Self.pythonScript, "http://127.0.0.1:\(server.bound.http!)", PromAPILiveTests.siteA, "\(t)"])
            if run.stderr.contains("No module named 'prometheus_api_client'") {
                Issue.record("prometheus-api-client is not installed: run `scripts/setup --tests` (it installs the test peers)")
                return
            }
            #expect(run.status == 0, "\(run.stderr)")
            let out = Self.json(run.stdout) as? [String: Any] ?? [:]
            #expect(out["connected"] as? Bool == true)
            #expect(Set(["temperature", "temperature:p99", "http_requests_total"]).isSubset(of: out["metrics"] as? [String] ?? []))
            let mine = Self.sums(data, at: t, tenants: ["site-a"])
            #expect(Self.vector(out["sums"]) == mine)
            #expect(Self.vector(out["posted"]) == mine)
            let rates = out["rates"] as? [[String: Any]] ?? []
            #expect(rates.count == 2, "site-a's two counters only")
            for series in rates {
                let labels = series["metric"] as? [String: String] ?? [:]
                let values = (series["values"] as? [[Any]] ?? []).compactMap { ($0.last as? String).flatMap(Double.init) }
                #expect(values.count == 6 && values.allSatisfy { abs($0 - (Self.slopes[labels] ?? .nan)) < 1e-9 }, "\(labels): \(values)")
            }
            let raw = out["raw"] as? [[String: Any]] ?? []
            #expect(raw.count == 1)
            #expect((raw.first?["values"] as? [Any])?.count == 8, "two minutes of 15 s samples")
            #expect(out["tenants"] as? [String] == ["site-a"])
            #expect(((out["metadata"] as? [[String: String]])?.first)?["type"] == "gauge")
        }
    }
}

/// How the test expects Prometheus to print a value (Go's shortest form).
enum PromResponseFormat {
    static func value(_ v: Double) -> String { v == v.rounded() ? String(Int64(v)) : "\(v)" }
}
