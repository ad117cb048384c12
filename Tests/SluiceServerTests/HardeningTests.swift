import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SluiceModel
import SluiceStore
import SluiceServerTesting
import SluiceTesting

/// What an adversarial client tried against `sluice serve`, each answered without harm.
@Suite("Hardening: hostile requests", .serialized)
struct HardeningTests {
    static let tokens = ServeTests.tokens

    /// Values a careless or hostile client sends: huge, negative, non-finite, malformed.
    static let extremes = [
        "1e15", "-1e15", "1e308", "-1e308", "nan", "inf", "-inf", "9223372036854775807", "-9223372036854775808",
        "99999999999999999999", "-1", "", "10000-01-01T00:00:00Z", "0000-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59", "2026-02-30T00:00:00Z", "99999999999d", "106751991167d", "9223372036854775807us",
        "0s", "-5m", "%00", "%FF%FE", String(repeating: "9", count: 4_000),
    ]


    @Test("extreme values in every parameter of every route answer 400 or 200, never crash the server")
    func extremeParameters() async throws {
        let server = try await LiveServer.start(Self.tokens)
        let tenant = "token-site-a-0001", admin = "token-admin-0001"
        // route, parameter, token, whether every value must be a 400 unless it parses as that kind.
        enum Kind: Equatable { case time, duration, free }
        let parameters: [(String, String, Kind)] = [
            ("/api/v2/analytics/aggregate", "from", .time), ("/api/v2/analytics/aggregate", "to", .time),
            ("/api/v2/analytics/aggregate", "window", .duration), ("/api/v2/analytics/aggregate", "stat", .free),
            ("/api/v2/analytics/aggregate", "metric", .free),
            ("/api/v2/analytics/performance", "from", .time), ("/api/v2/analytics/performance", "to", .time),
            ("/api/v2/analytics/performance", "window", .duration), ("/api/v2/analytics/performance", "route", .free),
            ("/api/v2/analytics/anomalies", "from", .time), ("/api/v2/analytics/anomalies", "to", .time),
            ("/api/v2/analytics/tokens", "period", .free),
            ("/api/v2/analytics/stream", "types", .free),
            ("/api/v2/analytics/retention/apply", "dry_run", .free),
            ("/", "route", .free), ("/widgets/performance-dashboard", "route", .free),
        ]
        var checked = 0
        for (path, name, kind) in parameters {
            for value in Self.extremes {
                let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
                let raw = value.hasPrefix("%") ? value : encoded
                let method = path.hasSuffix("/apply") ? "POST" : "GET"
                for token in [tenant, admin] where !(path.hasSuffix("/apply") && token == tenant) {
                    let reply = try await server.request(method, "\(path)?\(name)=\(raw)", token: token)
                    #expect(reply.status < 500, "\(method) \(path)?\(name)=\(value): \(reply.status) \(reply.body)")
                    // None of the extremes is a time in years 0000–9999 or a duration from 1us
                    // to 100 years.
                    if kind != .free { #expect(reply.status == 400, "\(path)?\(name)=\(value): \(reply.status)") }
                    if reply.status == 400 {
                        let detail = (reply.json as? [String: Any])?["detail"] as? String
                        #expect(detail?.isEmpty == false, "a 400 says why: \(reply.body)")
                    }
                    checked += 1
                }
            }
        }
        // The tenant path parameter, too.
        for value in ["%00", String(repeating: "a", count: 4_000), "..", "a%2Fb"] {
            let reply = try await server.request("GET", "/api/v2/analytics/tenants/\(value)/metrics", token: admin)
            #expect(reply.status < 500, "tenants/\(value): \(reply.status)")
        }
        #expect(checked > 500)
        // …while the same parameters with sensible values are answered.
        for query in ["from=2030-01-01T00:00:00Z", "to=1893456000.5", "from=0000-01-01T00:00:00Z", "to=9999-12-31T23:59:59Z", "window=1m", "window=36525d"] {
            #expect(try await server.request("GET", "/api/v2/analytics/aggregate?\(query)", token: tenant).status == 200, "\(query)")
        }
        // from after to is a mistake, not an empty answer.
        let reversed = try await server.request("GET", "/api/v2/analytics/aggregate?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", token: admin)
        #expect(reversed.status == 400)
        #expect(try await server.request("GET", "/healthz").status == 200)
        try await server.stop()
    }

    @Test("every error answers {error, detail}: 404, 413, 415; the Bearer scheme in any case")
    func errorBodies() async throws {
        let server = try await LiveServer.start(Self.tokens + "\nserver:\n  max_body_bytes: 200\n")
        for (status, reply) in [
            (404, try await server.request("GET", "/no/such/route", token: "token-admin-0001")),
            (413, try await server.request("PUT", "/api/v2/analytics/retention", body: String(repeating: " ", count: 2 << 20), token: "token-admin-0001")),
            (413, try await server.request("POST", "/api/v2/analytics/metrics", body: "[" + String(repeating: #"{"metric_name":"m","value":1},"#, count: 20) + "1]", token: "token-admin-0001")),
            (415, try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1}"#, token: "token-admin-0001", contentType: "text/plain")),
            (415, try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1}"#, token: "token-admin-0001", contentType: "application/x-www-form-urlencoded")),
        ] {
            #expect(reply.status == status)
            let json = reply.json as? [String: Any]
            #expect(json?["error"] is String, "\(status): \(reply.body)")
            #expect((json?["detail"] as? String)?.isEmpty == false, "\(status): \(reply.body)")
            #expect(reply.headers["content-type"] == "application/json")
        }
        // Media type parameters and case do not matter.
        let charset = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1,"timestamp":"2030-01-01T00:00:00Z"}"#,
                                               token: "token-admin-0001", contentType: "Application/JSON; charset=utf-8")
        #expect(charset.status == 202)
        // RFC 9110: the scheme is case-insensitive.
        for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.bound.http!)/api/v2/analytics/tokens")!)
            request.setValue("\(scheme) token-site-a-0001", forHTTPHeaderField: "Authorization")
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as! HTTPURLResponse).statusCode == 200, "\(scheme)")
        }
        #expect(try await server.request("GET", "/api/v2/analytics/tokens", token: "token-site-a-000").status == 401)
        try await server.stop()
    }

    @Test("a window open across graceful restarts resumes: one window with every sample, stored once when it closes")
    func restartResumesWindow() async throws {
        let directory = TestFiles.temporaryDirectory("sluice-restart")
        func post(_ server: LiveServer, _ values: [Double], minute: Int = 0, second: Int) async throws {
            let body = values.enumerated().map { i, v in
                #"{"metric_name":"latency","value":\#(v),"tenant_id":"t","timestamp":"2030-01-01T00:\#(String(format: "%02d", minute)):\#(String(format: "%02d", second + i))Z"}"#
            }.joined(separator: "\n")
            #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: body, contentType: "application/x-ndjson").status == 202)
        }
        func window(_ server: LiveServer) async throws -> [String: Any]? {
            let reply = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=t&metric=latency&to=2030-01-01T00:01:00Z")
            let windows = reply.json as? [[String: Any]]
            #expect(windows?.count == 1, "one window: \(reply.body)")
            return windows?.first
        }
        func storedWindows() throws -> [StoredRecord] {
            try StoreReader(directory: DataDirectory(path: directory, create: false)).records(StoreQuery(kinds: [.window]))
        }
        let values = (1...9).map { Double($0) * 1.1 }
        var server = try await LiveServer.start("pipeline:\n  windows: [1m]\n", dataDirectory: directory)
        try await post(server, values, second: 0)
        try await server.stop()  // checkpoints the open window instead of closing it
        #expect(try storedWindows().isEmpty, "a stop does not close the window early")
        server = try await LiveServer.start("pipeline:\n  windows: [1m]\n", dataDirectory: directory)
        try await post(server, [100], second: 30)  // the same minute, after the restart
        var answer = try await window(server)
        #expect(answer?["count"] as? Int == 10)
        #expect(answer?["max"] as? Double == 100)
        #expect(answer?["min"] as? Double == 1.1)
        #expect(answer?["partial"] as? Bool == true)
        try await server.stop()
        server = try await LiveServer.start("pipeline:\n  windows: [1m]\n", dataDirectory: directory)
        answer = try await window(server)
        #expect(answer?["count"] as? Int == 10, "resumed again after a second restart")
        // A record past the window's end and the lateness closes it: stored once, whole.
        try await post(server, [1], minute: 1, second: 10)
        try await server.stop()  // drains: the closed window is stored, the store sealed
        let stored = try storedWindows().compactMap { if case .output(.window(let w)) = $0, w.series.name == "latency", w.span.start.microseconds == 1_893_456_000_000_000 { w } else { nil } }
        #expect(stored.count == 1)
        #expect(stored.first?.count == 10)
        // The exact sum of all ten values, as an independent oracle computes it.
        let expected = (values + [100]).reduce(Decimal(0)) { $0 + Decimal(string: "\($1)")! }
        #expect(stored.first.map { abs(Decimal($0.sum) - expected) < 1e-9 } == true)
    }
}
