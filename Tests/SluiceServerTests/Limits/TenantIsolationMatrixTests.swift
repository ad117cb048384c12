import Foundation
import Testing
import SluicePipeline
import SluiceServerTesting
import SluiceTesting

/// Every route the server registers × {own tenant, other tenant, admin, no token, bad token}.
///
/// The rules, explicit:
/// - Public by design (a load balancer's probes and Prometheus' scrape carry no token, and
///   they show no tenant's data): `/healthz`, `/readyz`, `/metrics` answer every caller.
/// - Every other route: no token or an unknown one is `401`.
/// - A tenant token acting on its own tenant succeeds; reaching for another tenant is `403`,
///   except on routes scoped by the token itself (the Prometheus read API, the retention
///   policy view), where the answer is `200` and holds nothing of the other tenant, while an
///   admin's answer to the same request does.
/// - Changing or applying retention, and the cluster's status, are the admin's alone: `403`
///   for any tenant token.
/// - An admin may do everything.
///
/// The route list comes from the server's router: a route added without a row here fails the
/// test.
@Suite("Tenant isolation matrix", .serialized, .timeLimit(.minutes(5)))
struct TenantIsolationMatrixTests {
    static let tokens = """
        auth:
          tokens:
            "token-site-a-0001": site-a
            "token-site-b-0001": site-b
            "token-admin-0001": admin
        retention:
          tenants:
            site-b: {max_age: {metric: 7d}}
        """
    static let ownToken = "token-site-a-0001", adminToken = "token-admin-0001", badToken = "token-site-z-0001"

    struct Probe {
        var method: String
        var path: String
        var body: String? = nil
        var headers: [String] = []
    }

    enum Other {
        /// Reaching for site-b is refused.
        case refused(Probe)
        /// The token scopes the answer: the same request as `own` holds nothing of site-b
        /// for a site-a token, and does hold it for an admin.
        case scoped
    }

    struct Row {
        var own: Probe
        var other: Other
        var success: Set<Int> = [200]
        var adminOnly = false
        var isPublic = false
    }

    static let at = "2030-01-01T00:00:30Z"
    static func json(_ tenant: String?) -> String {
        #"{"metric_name":"m","value":1,"timestamp":"\#(at)""# + (tenant.map { #","tenant_id":"\#($0)""# } ?? "") + "}"
    }
    static let otlp = #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"own_a","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"1893456030000000000"}]}}]}]}]}"#
    static let otlpTraces = #"{"resourceSpans":[]}"#
    /// An empty remote-write `WriteRequest`, as a snappy block.
    static let remoteWrite = "\u{0}"
    static let orgB = "X-Scope-OrgID: site-b"

    static func get(_ path: String) -> Probe { Probe(method: "GET", path: path) }

    /// One row per `METHOD /path` the router has.
    static let rows: [String: Row] = {
        var rows: [String: Row] = [:]
        let api = "/api/v2/analytics"
        for (kind, route) in [("metric", "metrics"), ("cache", "cache")] {
            let own = kind == "metric" ? json("site-a") : #"{"type":"cache","hits":1,"misses":0,"size_kb":1,"tenant_id":"site-a","timestamp":"\#(at)"}"#
            rows["POST \(api)/\(route)"] = Row(own: Probe(method: "POST", path: "\(api)/\(route)", body: own, headers: ["Content-Type: application/json"]),
                                               other: .refused(Probe(method: "POST", path: "\(api)/\(route)", body: own.replacingOccurrences(of: "site-a", with: "site-b"),
                                                                     headers: ["Content-Type: application/json"])),
                                               success: [202])
        }
        for route in ["aggregate", "performance", "tokens", "anomalies", "stream"] {
            rows["GET \(api)/\(route)"] = Row(own: get("\(api)/\(route)?tenant=site-a"), other: .refused(get("\(api)/\(route)?tenant=site-b")))
        }
        rows["GET \(api)/tenants/{id}/metrics"] = Row(own: get("\(api)/tenants/site-a/metrics"), other: .refused(get("\(api)/tenants/site-b/metrics")))
        rows["GET \(api)/retention"] = Row(own: get("\(api)/retention"), other: .scoped)
        rows["PUT \(api)/retention"] = Row(own: Probe(method: "PUT", path: "\(api)/retention", body: #"{"max_age":{"metric":"3650d"},"tenants":{"site-b":{"max_age":{"metric":"7d"}}}}"#,
                                                      headers: ["Content-Type: application/json"]),
                                           other: .refused(Probe(method: "PUT", path: "\(api)/retention", body: #"{"max_age":{"metric":"1d"}}"#, headers: ["Content-Type: application/json"])),
                                           adminOnly: true)
        // The cluster's nodes and partitions: the admin's (a single node answers 404).
        rows["GET /api/v2/cluster/status"] = Row(own: get("/api/v2/cluster/status"), other: .refused(get("/api/v2/cluster/status")),
                                                 success: [404], adminOnly: true)
        rows["POST \(api)/retention/apply"] = Row(own: Probe(method: "POST", path: "\(api)/retention/apply?dry_run=true"),
                                                  other: .refused(Probe(method: "POST", path: "\(api)/retention/apply")), adminOnly: true)
        // The Prometheus read API: scoped by the token.
        let query = "query=secret_b:count&time=2030-01-01T00:01:00Z"
        let range = "query=secret_b:count&start=2030-01-01T00:00:00Z&end=2030-01-01T00:02:00Z&step=60s"
        let series = "match[]=secret_b:count&start=2030-01-01T00:00:00Z&end=2030-01-01T00:02:00Z"
        for (route, parameters) in [("query", query), ("query_range", range), ("series", series), ("labels", series)] {
            rows["GET /api/v1/\(route)"] = Row(own: get("/api/v1/\(route)?\(parameters)"), other: .scoped)
            rows["POST /api/v1/\(route)"] = Row(own: Probe(method: "POST", path: "/api/v1/\(route)", body: parameters, headers: ["Content-Type: application/x-www-form-urlencoded"]),
                                                other: .scoped)
        }
        rows["GET /api/v1/label/{name}/values"] = Row(own: get("/api/v1/label/tenant_id/values"), other: .scoped)
        rows["GET /api/v1/metadata"] = Row(own: get("/api/v1/metadata"), other: .scoped)
        rows["GET /api/v1/status/buildinfo"] = Row(own: get("/api/v1/status/buildinfo"), other: .scoped)
        // Ingest protocols: an admin names the tenant with X-Scope-OrgID; a tenant token naming another is refused.
        for (route, body, type, success) in [("/v1/metrics", otlp, "application/json", 200), ("/v1/traces", otlpTraces, "application/json", 200)] {
            let own = Probe(method: "POST", path: route, body: body, headers: ["Content-Type: \(type)"])
            var other = own
            other.headers.append(orgB)
            rows["POST \(route)"] = Row(own: own, other: .refused(other), success: [success])
        }
        let write = Probe(method: "POST", path: "/api/v1/write", body: remoteWrite,
                          headers: ["Content-Type: application/x-protobuf", "Content-Encoding: snappy", "X-Prometheus-Remote-Write-Version: 0.1.0"])
        rows["POST /api/v1/write"] = Row(own: write, other: .refused(Probe(method: write.method, path: write.path, body: write.body, headers: write.headers + [orgB])), success: [204])
        for path in ["/api/v2/write?org=o&bucket=b&precision=s", "/write?db=d&precision=s"] {
            let own = Probe(method: "POST", path: path, body: "own_a value=1 1893456030", headers: ["Content-Type: text/plain"])
            rows["POST \(path.split(separator: "?")[0])"] = Row(own: own, other: .refused(Probe(method: "POST", path: path, body: own.body, headers: own.headers + [orgB])), success: [204])
        }
        for path in ["/healthz", "/readyz", "/metrics"] {
            rows["GET \(path)"] = Row(own: get(path), other: .scoped, isPublic: true)
        }
        for path in ["/", "/dashboard"] {
            rows["GET \(path)"] = Row(own: get(path), other: .refused(get("\(path)?tenant=site-b")))
        }
        rows["GET /widgets/{name}"] = Row(own: get("/widgets/token-usage-monitor"), other: .refused(get("/widgets/token-usage-monitor?tenant=site-b")))
        return rows
    }()

    /// Sends `probe` with `token` on a connection of its own; a live stream answers its head.
    static func send(_ probe: Probe, token: String?, port: Int) async throws -> RawReply {
        let connection = try Connection(port: port)
        let body = Array((probe.body ?? "").utf8)
        var head = "\(probe.method) \(probe.path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        for header in probe.headers { head += header + "\r\n" }
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if probe.body != nil { head += "Content-Length: \(body.count)\r\n" }
        connection.send(head + "\r\n")
        connection.send(bytes: body)
        if probe.path.contains("/stream") {
            let (_, text) = try await connection.receive()
            return RawReply(text, closed: false)
        }
        return try await connection.readToEnd()
    }

    @Test("every route × {own tenant, other tenant, admin, no token, bad token} answers as the rules say")
    func matrix() async throws {
        let server = try await LiveServer.start(Self.tokens)
        let port = server.bound.http!
        // site-b's data, named so that any leak of it shows: a metric with a label, its window, and
        // token usage.
        let seed = #"[{"metric_name":"secret_b","value":7,"tenant_id":"site-b","labels":{"secret_b_label":"x"},"timestamp":"\#(Self.at)"},{"type":"token_usage","tenant_id":"site-b","model":"model-b","prompt_tokens":5,"completion_tokens":1,"request_id":"b1","timestamp":"\#(Self.at)"}]"#
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: seed, token: Self.adminToken).status == 202)
        await server.server.state.pipeline.counters.wait { $0.records >= 2 }
        while await server.server.state.tokenMeter.usage(tenantID: "site-b").isEmpty { await Task.yield() }

        let routes = server.server.routes
        #expect(routes.count >= 30, "\(routes)")
        for route in routes {
            guard let row = Self.rows[route] else {
                Issue.record("\(route) has no row in the isolation matrix: add one with its rule")
                continue
            }
            for (name, token) in [("no token", nil), ("bad token", Self.badToken)] {
                let reply = try await Self.send(row.own, token: token, port: port)
                #expect(reply.status == (row.isPublic ? 200 : 401), "\(route) with \(name): \(reply.status) \(reply.body)")
                #expect(!reply.body.contains("site-b") && !reply.body.contains("secret_b"), "\(route) with \(name) shows site-b: \(reply.body)")
            }
            let admin = try await Self.send(row.own, token: Self.adminToken, port: port)
            #expect(row.success.contains(admin.status), "\(route) as admin: \(admin.status) \(admin.body)")
            let own = try await Self.send(row.own, token: Self.ownToken, port: port)
            if row.adminOnly {
                #expect(own.status == 403, "\(route) as a tenant: \(own.status) \(own.body)")
            } else {
                #expect(row.success.contains(own.status), "\(route) as its own tenant: \(own.status) \(own.body)")
            }
            // Whatever the route, a site-a token's answer holds nothing of site-b.
            #expect(!own.body.contains("site-b") && !own.body.contains("secret_b") && !own.body.contains("model-b"), "\(route) shows site-b to site-a: \(own.body)")
            switch row.other {
            case .refused(let probe):
                let other = try await Self.send(probe, token: Self.ownToken, port: port)
                #expect(other.status == 403, "\(route) reaching for another tenant: \(other.status) \(other.body)")
            case .scoped where !row.isPublic && route != "GET /api/v1/status/buildinfo":
                #expect(!own.body.contains("site-b") && !own.body.contains("secret_b"), "\(route) shows site-b to site-a: \(own.body)")
                #expect(admin.body.contains("site-b") || admin.body.contains("secret_b"), "\(route): an admin sees site-b (else the check above proves nothing): \(admin.body)")
            case .scoped:
                #expect(!own.body.contains("site-b") && !own.body.contains("secret_b"), "\(route) shows site-b: \(own.body)")
            }
        }
        // Every widget, alone and as a fragment: site-a's holds nothing of site-b; an admin's
        // token usage monitor does.
        for widget in ["performance-dashboard", "analytics-charts", "multi-site-aggregator", "token-usage-monitor", "retention-policy-manager"] {
            for path in ["/widgets/\(widget)", "/widgets/\(widget)?fragment=1"] {
                let own = try await Self.send(Self.get(path), token: Self.ownToken, port: port)
                #expect(own.status == 200, "\(path): \(own.status)")
                #expect(!own.body.contains("site-b") && !own.body.contains("secret_b") && !own.body.contains("model-b"), "\(path) shows site-b to site-a")
            }
        }
        #expect(try await Self.send(Self.get("/widgets/token-usage-monitor"), token: Self.adminToken, port: port).body.contains("model-b"))
        try await server.stop()
    }
}
