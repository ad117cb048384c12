import Foundation
import Testing
import SluiceModel
import SluiceServer
import SluiceServerTesting
import SluiceTesting

/// `budget_forecast` goes where `budget_alert` goes in `serve`: the live stream, the
/// dashboard's sink; and the meter's live read answers the current forecasts.
@Suite("Budget forecast in serve", .serialized, .timeLimit(.minutes(3)))
struct BudgetForecastServeTests {
    @Test("two records two hours apart: the forecast is streamed as budget_forecast, kept for the dashboard and read live")
    func streamedAndRead() async throws {
        let server = try await LiveServer.start("""
            tokens:
              pricing:
                m: {prompt_per_million_usd: 1, completion_per_million_usd: 1}
              budgets:
                site-a: {monthly_tokens: 1000000, thresholds: [0.5]}
            """)
        let port = server.bound.http!
        let events = Task { () -> String in
            try await SocketClient.readUntil(port: port, request: "GET /api/v2/analytics/stream?types=budget_forecast HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                             marker: "reached_at", timeout: 90)
        }
        await server.server.state.broadcast.waitForSubscriber()
        let usage = #"[{"type":"token_usage","tenant_id":"site-a","model":"m","prompt_tokens":10000,"completion_tokens":0,"request_id":"r1","timestamp":"2030-01-10T00:00:00Z"},{"type":"token_usage","tenant_id":"site-a","model":"m","prompt_tokens":10000,"completion_tokens":0,"request_id":"r2","timestamp":"2030-01-10T02:00:00Z"}]"#
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: usage).status == 202)
        let text = try await events.value
        // 20,000 tokens over 2 h: 10,000 an hour; 480,000 more to 50% take 48 h.
        #expect(text.contains("event: budget_forecast\ndata: "))
        #expect(text.contains(#""tenant_id":"site-a","period":"month","start":"2030-01-01T00:00:00Z","threshold":0.5,"budget_tokens":1000000,"used_tokens":20000,"tokens_per_hour":10000,"measured_from":"2030-01-10T00:00:00Z","measured_to":"2030-01-10T02:00:00Z","reached_at":"2030-01-12T02:00:00Z","request_id":"r2""#), "\(text)")

        let live = await server.server.state.tokenMeter.forecasts(tenantID: "site-a")
        #expect(live.map(\.reachedAt) == [Timestamp(seconds: 1_894_413_600)])  // 2030-01-12T02:00:00Z
        #expect(live.first?.requestID == nil)
        // The dashboard's sink has it once the stream has it (both are fed the same batch).
        var kept: [BudgetForecast] = []
        while kept.isEmpty { kept = server.server.state.dashboard.snapshot(tenant: "site-a").forecasts; await Task.yield() }
        #expect(kept.map(\.requestID) == ["r2"])
        #expect(server.server.state.dashboard.snapshot(tenant: "site-b").forecasts.isEmpty)

        let unknown = try await server.request("GET", "/api/v2/analytics/stream?types=budget_forecasts")
        #expect(unknown.status == 400)
        #expect(unknown.body.contains("budget_forecast"))
        try await server.stop()
    }
}
