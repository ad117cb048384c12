import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// Changing retention is the admin's alone, and a new policy that would delete more than
/// half the store at once needs `?confirm=true`.
@Suite("Retention PUT guard", .timeLimit(.minutes(5)), .serialized)
struct RetentionPutGuardTests {
    static let tokens = """
        auth:
          tokens:
            "token-site-a-0001": site-a
            "token-admin-0001": admin
        """

    /// A store holding site-a's metrics from three days ago, sealed by a server since stopped.
    static func recentStore() async throws -> String {
        let server = try await LiveServer.start()
        let formatter = ISO8601DateFormatter()
        var lines = ""
        for minute in 0..<5 {
            let time = formatter.string(from: Date().addingTimeInterval(-3 * 86_400 + Double(minute) * 60))
            lines += #"{"metric_name":"m","value":1,"tenant_id":"site-a","timestamp":"\#(time)"}"# + "\n"
        }
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: lines, contentType: "application/x-ndjson").status == 202)
        try await server.stop()
        return server.dataDirectory
    }

    static let shrink = #"{"max_age":{"metric":"1d","window":"1d","performance":"1d","cache":"1d","visit":"1d","token_usage":"1d"}}"#

    @Test("a PUT whose policy would delete more than half the store is 409 naming the share and confirm=true, and changes nothing; confirmed, it is saved and applied")
    func putNeedsConfirming() async throws {
        let server = try await LiveServer.start(Self.tokens, dataDirectory: try await Self.recentStore())
        let admin = "token-admin-0001"
        func held() async throws -> Int {
            let reply = try await server.request("POST", "/api/v2/analytics/retention/apply?dry_run=true", token: admin)
            return (reply.json as? [String: Any])?["removed_records"] as? Int ?? -1
        }
        let before = try await server.request("GET", "/api/v2/analytics/retention", token: admin).body
        #expect(try await held() == 0, "nothing expires under the default policy")

        // A tenant may not change it at all.
        #expect(try await server.request("PUT", "/api/v2/analytics/retention", body: Self.shrink, token: "token-site-a-0001").status == 403)
        #expect(try await server.request("PUT", "/api/v2/analytics/retention?confirm=true", body: Self.shrink, token: "token-site-a-0001").status == 403)
        #expect(try await server.request("POST", "/api/v2/analytics/retention/apply?confirm=true", token: "token-site-a-0001").status == 403)

        for body in [Self.shrink, Self.shrink.dropLast() + #","allow_mass_delete":true}"#] {
            let refused = try await server.request("PUT", "/api/v2/analytics/retention", body: String(body), token: admin)
            #expect(refused.status == 409, "\(refused.body)")
            let json = refused.json as? [String: Any]
            #expect(json?["error"] as? String == "mass_delete")
            let detail = json?["detail"] as? String ?? ""
            #expect(detail.contains("more than half") && detail.contains("confirm=true") && detail.contains("nothing was changed"), "\(detail)")
            #expect(try await server.request("GET", "/api/v2/analytics/retention", token: admin).body == before, "the policy is unchanged")
            #expect(try await held() == 0)
        }
        // A change that removes nothing needs no confirmation.
        #expect(try await server.request("PUT", "/api/v2/analytics/retention", body: #"{"max_age":{"metric":"60d"}}"#, token: admin).status == 200)

        let confirmed = try await server.request("PUT", "/api/v2/analytics/retention?confirm=true", body: Self.shrink, token: admin)
        #expect(confirmed.status == 200, "\(confirmed.body)")
        #expect(try await server.request("GET", "/api/v2/analytics/retention", token: admin).body.contains(#""metric":"1d""#))
        // Applied at once: under the new policy, where all of it has expired, nothing is left
        // for a prune to take.
        #expect(try await held() == 0)
        #expect(try await server.request("GET", "/metrics").body.contains("sluice_prune_removed_records_total"))
        try await server.stop()
    }
}
