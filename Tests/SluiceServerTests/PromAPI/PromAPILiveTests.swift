import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// The read API on a real `sluice serve` (in-process), with records ingested over HTTP.
@Suite("Prometheus API on a live server", .serialized)
struct PromAPILiveTests {
    /// The same tokens as the other live-server tests.
    static let tokens = ServeTests.tokens
    static let admin = "token-admin-0001"
    static let siteA = "token-site-a-0001"

    /// `result` of a vector, as label sets (without `__name__`) → value.
    static func vector(_ envelope: [String: Any]) -> [[String: String]: Double] {
        let result = (envelope["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        var out: [[String: String]: Double] = [:]
        for r in result {
            var labels = r["metric"] as? [String: String] ?? [:]
            labels["__name__"] = nil
            out[labels] = ((r["value"] as? [Any])?.last as? String).flatMap(Double.init)
        }
        return out
    }

    static func strings(_ envelope: [String: Any]) -> [String] { envelope["data"] as? [String] ?? [] }

    @Test("query, query_range, series, labels, values, metadata and buildinfo answer in Prometheus' envelope")
    func envelope() async throws {
        let data = PromTestData()
        let server = try await LiveServer.loaded(Self.tokens, records: data.records, token: Self.admin)
        try await server.serving { server in
            let t = data.base + 600

            let instant = try await server.prom("/api/v1/query", [("query", "temperature"), ("time", "\(t)")], token: Self.admin)
            #expect(instant.status == 200)
            #expect(instant.envelope["status"] as? String == "success")
            #expect((instant.envelope["data"] as? [String: Any])?["resultType"] as? String == "vector")
            let expected = Dictionary(uniqueKeysWithValues: data.latest(at: t).filter { $0.key.name == "temperature" }.map { (s, v) in
                (s.labels.merging(["tenant_id": s.tenant]) { a, _ in a }, v)
            })
            #expect(Self.vector(instant.envelope) == expected)

            // POST with a form body, as Grafana sends long queries.
            let form = try await server.request("POST", "/api/v1/query", body: "query=sum+by+(tenant_id)+(temperature)&time=\(t)", token: Self.admin,
                                                contentType: "application/x-www-form-urlencoded")
            let sums = Self.vector(form.json as? [String: Any] ?? [:])
            #expect(sums[["tenant_id": "site-a"]] == expected.filter { $0.key["tenant_id"] == "site-a" }.values.reduce(0, +))
            #expect(sums.count == 2)

            // Window statistics: the max of each minute's four samples, at the minute's end.
            let r1 = data.series.first { $0.name == "temperature" && $0.tenant == "site-a" && $0.labels["room"] == "r1" }!
            let range = try await server.prom("/api/v1/query_range", [("query", #"temperature:max{tenant_id="site-a",room="r1"}"#),
                                                                      ("start", "\(data.base + 120)"), ("end", "\(data.base + 300)"), ("step", "1m")], token: Self.admin)
            let matrix = (range.envelope["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            #expect(matrix.count == 1)
            #expect((matrix.first?["metric"] as? [String: String]) == ["__name__": "temperature:max", "room": "r1", "tenant_id": "site-a", "window": "60s"])
            let points = (matrix.first?["values"] as? [[Any]] ?? []).map { ($0[0] as? Double ?? 0, Double($0[1] as? String ?? "") ?? .nan) }
            // The window ending at base + m·60 holds samples 4(m−1) … 4m−1.
            let windowMax = (2...5).map { m in r1.values[(4 * (m - 1))..<(4 * m)].max()! }
            #expect(points.map(\.0) == [120, 180, 240, 300].map { Double(data.base + $0) })
            #expect(points.map(\.1) == windowMax)

            let series = try await server.prom("/api/v1/series", [("match[]", "http_requests_total"), ("start", "\(data.first)"), ("end", "\(data.last)")], token: Self.admin)
            #expect((series.envelope["data"] as? [[String: String]])?.count == 3)
            let labels = Self.strings(try await server.prom("/api/v1/labels", [], token: Self.admin).envelope)
            #expect(Set(["__name__", "job", "room", "tenant_id", "window"]).isSubset(of: labels))
            let names = Self.strings(try await server.prom("/api/v1/label/__name__/values", [], token: Self.admin).envelope)
            #expect(Set(["temperature", "temperature:p99", "http_requests_total", "http_requests_total:count"]).isSubset(of: names))
            let metadata = try await server.prom("/api/v1/metadata", [("metric", "temperature")], token: Self.admin)
            #expect(((metadata.envelope["data"] as? [String: [[String: String]]])?["temperature"])?.first?["type"] == "unknown")
            let build = try await server.prom("/api/v1/status/buildinfo", [], token: Self.admin)
            #expect((build.envelope["data"] as? [String: String])?["version"]?.isEmpty == false)
            let unknown = try await server.prom("/api/v1/query_exemplars", [("query", "temperature")], token: Self.admin)
            #expect(unknown.status == 404)
            #expect(unknown.envelope["errorType"] as? String == "not_found", "\(unknown.envelope)")
        }
    }

    @Test("a tenant token sees only its tenant's series, whatever the selector asks; no token is 401 in the envelope")
    func tenantIsolation() async throws {
        let data = PromTestData()
        let server = try await LiveServer.loaded(Self.tokens, records: data.records, token: Self.admin)
        try await server.serving { server in
            let t = "\(data.base + 600)"
            for query in ["temperature", #"{__name__=~"temperature|http_requests_total"}"#, "temperature:count", "rate(http_requests_total[5m])"] {
                let answer = try await server.prom("/api/v1/query", [("query", query), ("time", t)], token: Self.siteA)
                let tenants = Set(Self.vector(answer.envelope).keys.map { $0["tenant_id"] })
                #expect(tenants == ["site-a"], "\(query)")
        }
        let other = try await server.prom("/api/v1/query", [("query", #"temperature{tenant_id="site-b"}"#), ("time", t)], token: Self.siteA)
        #expect(other.status == 200)
        #expect(Self.vector(other.envelope).isEmpty)
        let notMine = try await server.prom("/api/v1/query", [("query", #"sum(temperature{tenant_id!="site-a"})"#), ("time", t)], token: Self.siteA)
        #expect(Self.vector(notMine.envelope).isEmpty)
        let all = try await server.prom("/api/v1/series", [("match[]", #"{__name__=~".+"}"#)], token: Self.siteA)
        let seen = (all.envelope["data"] as? [[String: String]]) ?? []
        #expect(!seen.isEmpty)
        #expect(seen.allSatisfy { $0["tenant_id"] == "site-a" })
        #expect(Self.strings(try await server.prom("/api/v1/label/tenant_id/values", [], token: Self.siteA).envelope) == ["site-a"])
        #expect(Self.strings(try await server.prom("/api/v1/label/tenant_id/values", [], token: Self.admin).envelope) == ["site-a", "site-b"])

        let anonymous = try await server.prom("/api/v1/query", [("query", "temperature")])
        #expect(anonymous.status == 401)
        #expect(anonymous.envelope["status"] as? String == "error")
        #expect(anonymous.envelope["errorType"] as? String == "unauthorized")
        }
    }

    @Test("unsupported constructs and bad parameters are bad_data naming them; extreme values never crash the server",
          arguments: [
              ("/api/v1/query", [("query", "histogram_quantile(0.9, rate(x[5m]))")], "histogram_quantile"),
              ("/api/v1/query", [("query", "x[5m:1m]")], "subquery"),
              ("/api/v1/query", [("query", "a / b")], "two instant vectors"),
              ("/api/v1/query", [("query", "x"), ("time", "1e300")], "time"),
              ("/api/v1/query", [("query", "x"), ("time", "NaN")], "time"),
              ("/api/v1/query", [("query", "rate(x[1000000y])")], "duration"),
              ("/api/v1/query", [("query", "x offset 99999999999999y")], "duration"),
              ("/api/v1/query", [("query", String(repeating: "(", count: 10_000))], "nested"),
              ("/api/v1/query_range", [("query", "x"), ("start", "0"), ("end", "253402300799"), ("step", "1")], "11,000 points"),
              ("/api/v1/query_range", [("query", "x"), ("start", "100"), ("end", "50"), ("step", "1")], "before start"),
              ("/api/v1/query_range", [("query", "x"), ("start", "0"), ("end", "50"), ("step", "0")], "step"),
              ("/api/v1/query_range", [("query", "x"), ("start", "0"), ("end", "50"), ("step", "-5")], "step"),
              ("/api/v1/query_range", [("query", "x"), ("start", "0"), ("end", "50"), ("step", "1e-300")], "step"),
              ("/api/v1/query_range", [("query", "x"), ("start", "0"), ("end", "50"), ("step", "1e300")], "step"),
              ("/api/v1/query_range", [("query", "x"), ("start", "0"), ("end", "50")], "step"),
              ("/api/v1/query_range", [("query", "x[5m]"), ("start", "0"), ("end", "50"), ("step", "1")], "range vector"),
              ("/api/v1/series", [], "match[]"),
              ("/api/v1/series", [("match[]", "rate(x[5m])")], "match[]"),
              ("/api/v1/labels", [("limit", "-1")], "limit"),
              ("/api/v1/labels", [("start", "99999999999999999999")], "start"),
          ] as [(String, [(String, String)], String)])
    func badData(path: String, parameters: [(String, String)], named: String) async throws {
        let server = try await LiveServer.start()
        try await server.serving { server in
            let answer = try await server.prom(path, parameters)
            #expect(answer.status == 400)
            #expect(answer.envelope["status"] as? String == "error")
            #expect(answer.envelope["errorType"] as? String == "bad_data")
            #expect((answer.envelope["error"] as? String)?.contains(named) == true, "\(answer.envelope)")
            #expect(try await server.request("GET", "/healthz").status == 200, "the server still answers")
        }
    }

    @Test("extreme but valid parameters answer, empty, at once")
    func extremes() async throws {
        let server = try await LiveServer.start()
        try await server.serving { server in
            let cases: [(String, [(String, String)])] = [
                ("/api/v1/query", [("query", "x offset -100y"), ("time", "253402300799")]),
                ("/api/v1/query", [("query", "max_over_time(x[100y])"), ("time", "0")]),
                ("/api/v1/query_range", [("query", "sum(rate(x[5m]))"), ("start", "0"), ("end", "253402300799"), ("step", "100y")]),
                ("/api/v1/series", [("match[]", "x"), ("start", "-292273086-05-16T16:47:06Z"), ("end", "292277025-08-18T07:12:54.999999999Z")]),
                ("/api/v1/query", [("query", "1 / 0"), ("time", "1")]),
            ]
            for (path, parameters) in cases {
                let answer = try await server.prom(path, parameters)
                #expect(answer.status == 200, "\(path) \(parameters): \(answer.envelope)")
                #expect(answer.envelope["status"] as? String == "success")
        }
        let infinity = try await server.prom("/api/v1/query", [("query", "1 / 0"), ("time", "1")])
        #expect(((infinity.envelope["data"] as? [String: Any])?["result"] as? [Any])?.last as? String == "+Inf")
        }
    }
}
