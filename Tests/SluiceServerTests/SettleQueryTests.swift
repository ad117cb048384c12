import Foundation
import Testing
import SluiceServer
import SluiceServerTesting
import SluiceTesting

/// `?settle=`: a query right after a POST sees the windows that POST closed.
@Suite("Queries that settle", .serialized, .timeLimit(.minutes(5)))
struct SettleQueryTests {
    /// Records of one tenant over three minutes and a few seconds of 2030-01-01, in time order,
    /// with their values: the last one moves the watermark past the third minute, so the first
    /// three 1m windows close and the fourth stays open.
    struct Posted {
        var lines: [String] = []
        /// Per minute (0…3): the metric's values, and the performance samples' response times.
        var metric: [Int: [Double]] = [:]
        var responseTimes: [Int: [Double]] = [:]

        init(seed: UInt64) {
            var random = SplitMix(seed: seed)
            var second = 0.0
            while second < 190 {
                second += Double(random.next(below: 100) + 1) / 1_000
                let minute = Int(second / 60)
                let time = String(format: "2030-01-01T00:%02d:%06.3fZ", minute, second - Double(minute * 60))
                // Quarters add up exactly in a double: the sums below are exact oracles.
                let value = Double(random.next(below: 4_000)) / 4
                if random.next(below: 3) == 0 {
                    lines.append(#"{"type":"performance","route":"/pay","response_time":\#(value),"timestamp":"\#(time)","tenant_id":"settle-a"}"#)
                    responseTimes[minute, default: []].append(value)
                } else {
                    lines.append(#"{"metric_name":"latency","value":\#(value),"timestamp":"\#(time)","tenant_id":"settle-a"}"#)
                    metric[minute, default: []].append(value)
                }
            }
        }
    }

    @Test("aggregate and performance with settle answer every window the POST closed, with exact counts")
    func closedWindowsAfterPost() async throws {
        let server = try await LiveServer.start()
        let posted = Posted(seed: 15)
        let post = try await server.request("POST", "/api/v2/analytics/metrics", body: posted.lines.joined(separator: "\n"), contentType: "application/x-ndjson")
        #expect(post.status == 202)

        let aggregate = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=settle-a&metric=latency&settle=20s")
        #expect(aggregate.status == 200)
        #expect(aggregate.headers["sluice-settled"] == "true")
        let windows = try #require(aggregate.json as? [[String: Any]])
        let closed = windows.filter { $0["partial"] == nil }
        #expect(closed.map { $0["start"] as? String } == ["2030-01-01T00:00:00Z", "2030-01-01T00:01:00Z", "2030-01-01T00:02:00Z"])
        for (minute, window) in closed.enumerated() {
            let values = posted.metric[minute] ?? []
            #expect(window["count"] as? Int == values.count, "minute \(minute)")
            #expect(window["sum"] as? Double == values.reduce(0, +), "minute \(minute)")
            #expect(window["max"] as? Double == values.max(), "minute \(minute)")
        }
        let open = windows.filter { $0["partial"] as? Bool == true }
        #expect(open.map { $0["count"] as? Int } == [posted.metric[3]?.count])

        let performance = try await server.request("GET", "/api/v2/analytics/performance?tenant=settle-a&route=/pay&settle=20s")
        #expect(performance.headers["sluice-settled"] == "true")
        let spans = try #require(performance.json as? [[String: Any]])
        let counts = spans.filter { $0["partial"] == nil }.map { ($0["response_time"] as? [String: Any])?["count"] as? Int }
        #expect(counts == (0..<3).map { posted.responseTimes[$0]?.count ?? 0 })

        let tenant = try await server.request("GET", "/api/v2/analytics/tenants/settle-a/metrics?settle=20s")
        #expect(tenant.status == 200)
        #expect(tenant.headers["sluice-settled"] == "true")
        try await server.stop()
    }

    @Test("settle returns at once when nothing is pending: the timeout's clock never moves")
    func nothingPending() async throws {
        let server = try await LiveServer.start()
        let state = server.server.state
        // Idle from the start: if settling waited for its timeout, this would never return.
        #expect(await state.settle(within: .seconds(3_600), clock: ManualClock()))
        let posted = Posted(seed: 7)
        let post = try await server.request("POST", "/api/v2/analytics/metrics", body: posted.lines.joined(separator: "\n"), contentType: "application/x-ndjson")
        #expect(post.status == 202)
        #expect(await state.settle(within: .seconds(3_600), clock: ManualClock()))
        // Settled: every window the POST closed is in the windows queries read.
        let aggregate = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=settle-a&metric=latency")
        let closed = (aggregate.json as? [[String: Any]] ?? []).filter { $0["partial"] == nil }
        #expect(closed.map { $0["count"] as? Int } == (0..<3).map { posted.metric[$0]?.count ?? 0 })
        try await server.stop()
    }

    @Test("a bad settle is a 400 that names the parameter", arguments: ["soon", "-1s", "31s", "1h"])
    func badSettle(value: String) async throws {
        let server = try await LiveServer.start()
        for path in ["aggregate?", "performance?", "tenants/a/metrics?"] {
            let reply = try await server.request("GET", "/api/v2/analytics/\(path)settle=\(value)")
            #expect(reply.status == 400, "\(path)")
            #expect(((reply.json as? [String: Any])?["detail"] as? String)?.contains("settle=\(value)") == true, "\(reply.body)")
        }
        try await server.stop()
    }

    /// A small seeded generator, so a failing case can be run again.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func next(below n: UInt64) -> UInt64 { next() % n }
    }
}
