import Foundation
import Logging
import Synchronization
import Testing
import SluiceConfig
import SluicePipeline
import SluiceServer
import SluiceServerTesting
import SluiceTesting

/// Retention over HTTP and in the server's periodic run: harmful policies refused, a mass delete
/// only when confirmed, strict flags, and a tenant that sees its own policy and data only.
@Suite("sluice serve retention", .timeLimit(.minutes(5)), .serialized)
struct RetentionServeTests {
    /// A data directory holding metrics from 2020, long expired: three of site-a's, five of
    /// site-b's, and their windows, stored and sealed by a server that has since stopped.
    static func expiredStore() async throws -> String {
        let server = try await LiveServer.start()
        var lines = ""
        for (tenant, count) in [("site-a", 3), ("site-b", 5)] {
            for minute in 0..<count {
                lines += #"{"metric_name":"m","value":1,"tenant_id":"\#(tenant)","timestamp":"2020-01-01T00:0\#(minute):00Z"}"# + "\n"
            }
        }
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: lines, contentType: "application/x-ndjson").status == 202)
        try await server.stop()
        return server.dataDirectory
    }

    /// What a prune would remove now, from `?dry_run=true`.
    static func dryRun(_ server: LiveServer, token: String? = nil) async throws -> [String: Any] {
        let reply = try await server.request("POST", "/api/v2/analytics/retention/apply?dry_run=true", token: token)
        #expect(reply.status == 200, "\(reply.body)")
        return reply.json as? [String: Any] ?? [:]
    }

    @Test("PUT refuses an interval under 1s, max_bytes under 1MiB, a zero or over-100-year max_age, naming the key; the policy stays")
    func putRefusesHarmfulPolicy() async throws {
        let server = try await LiveServer.start()
        let refused = [
            (#"{"interval":"1us"}"#, "retention.interval"),
            (#"{"interval":"36526d"}"#, "retention.interval"),
            (#"{"max_bytes":1}"#, "retention.max_bytes"),
            (#"{"max_age":{"metric":"0s"}}"#, "retention.max_age.metric"),
            (#"{"max_age":{"window":"36526d"}}"#, "retention.max_age.window"),
            (#"{"tenants":{"site-b":{"max_age":{"metric":"0d"}}}}"#, "retention.tenants.site-b.max_age.metric"),
            (#"{"allow_mass_delete":"maybe"}"#, "retention.allow_mass_delete"),
        ]
        for (body, key) in refused {
            let reply = try await server.request("PUT", "/api/v2/analytics/retention", body: body)
            #expect(reply.status == 400, "\(body)")
            #expect(((reply.json as? [String: Any])?["detail"] as? String)?.contains(key) == true, "\(body): \(reply.body)")
        }
        let policy = try await server.request("GET", "/api/v2/analytics/retention").json as? [String: Any]
        #expect(policy?["interval"] as? String == "5m")
        #expect(policy?["max_bytes"] as? Int == 10 << 30)
        #expect(TestFiles.readString(server.dataDirectory + "/retention.json") == nil, "nothing refused was saved")
        let least = try await server.request("PUT", "/api/v2/analytics/retention", body: #"{"interval":"1s","max_bytes":"1MiB"}"#)
        #expect(least.status == 200, "\(least.body)")
        try await server.stop()
    }

    @Test("a harmful interval in the configuration or in a saved policy stops the server from starting, naming the key")
    func startRefusesHarmfulPolicy() async throws {
        let configured = await #expect(throws: ConfigurationError.self) {
            _ = try await LiveServer.start("retention:\n  interval: 1us\n")
        }
        #expect(configured?.key == "retention.interval")
        let directory = TestFiles.temporaryDirectory("sluice-serve")
        _ = TestFiles.write(directory + "/retention.json", #"{"interval":"1us"}"#)
        let saved = await #expect(throws: (any Error).self) {
            _ = try await LiveServer.start(dataDirectory: directory)
        }
        #expect("\(saved.map { "\($0)" } ?? "")".contains("retention.json: retention.interval"))
    }

    @Test("dry_run and confirm take true or false only; anything else is a 400 that says why, and removes nothing")
    func strictFlags() async throws {
        let server = try await LiveServer.start(dataDirectory: try await Self.expiredStore())
        let expired = try await Self.dryRun(server)["removed_records"] as? Int
        for query in ["dry_run=yes", "dry_run=TRUE", "dry_run=1", "confirm=yes", "dry_run=true&dry_run=false", "confirm=true&confirm=1"] {
            let reply = try await server.request("POST", "/api/v2/analytics/retention/apply?\(query)")
            #expect(reply.status == 400, "\(query)")
            let detail = (reply.json as? [String: Any])?["detail"] as? String ?? ""
            #expect(detail.contains(String(query.prefix { $0 != "=" })) && detail.contains("true or false"), "\(query): \(detail)")
        }
        #expect(try await Self.dryRun(server)["removed_records"] as? Int == expired)
        try await server.stop()
    }

    @Test("apply that would remove more than half the store answers 409 with what and how, removes nothing, and goes ahead with confirm=true")
    func applyNeedsConfirming() async throws {
        let server = try await LiveServer.start(dataDirectory: try await Self.expiredStore())
        let dry = try await Self.dryRun(server)
        let expired = dry["removed_records"] as? Int ?? 0
        #expect(expired > 8, "the metrics and their windows")
        #expect(dry["needs_confirmation"] as? Bool == true)

        let refused = try await server.request("POST", "/api/v2/analytics/retention/apply")
        #expect(refused.status == 409)
        let body = refused.json as? [String: Any]
        #expect(body?["error"] as? String == "mass_delete")
        let detail = body?["detail"] as? String ?? ""
        #expect(detail.contains("would remove \(expired) records") && detail.contains("confirm=true") && detail.contains("allow_mass_delete"))
        #expect(try await Self.dryRun(server)["removed_records"] as? Int == expired, "nothing was removed")
        #expect(try await server.request("GET", "/metrics").body.contains("sluice_prune_refused_total 1"))

        let confirmed = try await server.request("POST", "/api/v2/analytics/retention/apply?confirm=true")
        #expect(confirmed.status == 200)
        #expect((confirmed.json as? [String: Any])?["removed_records"] as? Int == expired)
        #expect(try await Self.dryRun(server)["removed_records"] as? Int == 0)
        try await server.stop()
    }

    @Test("the periodic run skips a mass delete and logs why; with retention.allow_mass_delete it goes ahead")
    func periodicRunSkipsMassDelete() async throws {
        let data = try await Self.expiredStore()
        do {
            let log = LogRecorder()
            let server = try await LiveServer.start("retention:\n  interval: 1s\n", dataDirectory: data, logger: log.logger)
            let expired = try await Self.dryRun(server)["removed_records"] as? Int ?? 0
            // After the first periodic run (1s), whatever it decided.
            await server.server.state.retentionRuns.wait { $0 >= 1 }
            #expect(try await server.request("GET", "/metrics").body.contains("sluice_prune_refused_total"))
            #expect(log.lines.contains { $0.contains("retention skipped a mass delete") && $0.contains("would remove \(expired) records") && $0.contains("allow_mass_delete") })
            #expect(try await Self.dryRun(server)["removed_records"] as? Int == expired, "nothing was removed")
            try await server.stop()
        }

        let allowed = try await LiveServer.start("retention:\n  interval: 1s\n  allow_mass_delete: true\n", dataDirectory: data)
        await allowed.server.state.retentionRuns.wait { $0 >= 1 }
        #expect(try await Self.dryRun(allowed)["removed_records"] as? Int == 0)
        #expect(try await allowed.request("GET", "/metrics").body.contains("sluice_prune_removed_records_total"))
        try await allowed.stop()
    }

    @Test("a tenant token sees only its own policy, data held and next prune, in the API and the widget")
    func tenantSeesOwnRetention() async throws {
        let data = try await Self.expiredStore()
        let server = try await LiveServer.start(ServeTests.tokens + """

            retention:
              tenants:
                site-a: {max_age: {metric: 7d}}
                site-b: {max_age: {metric: 1d, cache: 2d}}
            """, dataDirectory: data)
        let tenant = "token-site-a-0001", admin = "token-admin-0001"

        let own = try await server.request("GET", "/api/v2/analytics/retention", token: tenant)
        let policy = own.json as? [String: Any]
        #expect(policy?["tenant_id"] as? String == "site-a")
        #expect((policy?["max_age"] as? [String: String])?["metric"] == "7d", "its override")
        #expect((policy?["max_age"] as? [String: String])?["cache"] == "30d", "the global default")
        #expect(policy?["tenants"] == nil)
        #expect(!own.body.contains("site-b"))
        let all = try await server.request("GET", "/api/v2/analytics/retention", token: admin).json as? [String: Any]
        #expect((all?["tenants"] as? [String: Any])?.keys.sorted() == ["site-a", "site-b"])

        let removed = try await Self.dryRun(server, token: admin)["removed"] as? [[String: Any]] ?? []
        let total = removed.reduce(0) { $0 + ($1["records"] as? Int ?? 0) }
        let siteA = removed.filter { $0["tenant_id"] as? String == "site-a" }.reduce(0) { $0 + ($1["records"] as? Int ?? 0) }
        #expect(siteA > 0 && siteA < total)

        let widget = try await server.request("GET", "/widgets/retention-policy-manager?fragment=1", token: tenant).body
        #expect(!widget.contains("site-b"))
        #expect(widget.contains(#"name="metric" value="7d""#))
        #expect(widget.contains("Next prune would remove <b>\(siteA)</b> records"))
        #expect(widget.contains(#"data-held="metric|site-a""#))
        let adminWidget = try await server.request("GET", "/widgets/retention-policy-manager?fragment=1", token: admin).body
        #expect(adminWidget.contains("Next prune would remove <b>\(total)</b> records"))
        #expect(adminWidget.contains("site-b"))
        try await server.stop()
    }
}

/// Keeps what a server logs, so a test can look for a line.
final class LogRecorder: Sendable {
    private let recorded = Mutex<[String]>([])

    var lines: [String] { recorded.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let line = "\(event.level) \(event.message) \(event.metadata ?? [:])"
            recorder.recorded.withLock { $0.append(line) }
        }
    }
}
