import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// The dashboard's time range reaches past what it holds in memory: after a restart, or over
/// more windows than a chart draws, the widgets read the store as the query API does.
@Suite("Dashboard history", .timeLimit(.minutes(5)), .serialized)
struct DashboardHistoryTests {
    /// Three hours of one metric and one route, a window each minute, with known values.
    static let minutes = 180
    static func value(_ minute: Int) -> Int { (minute * 37) % 101 }

    static func feed(_ server: LiveServer) async throws {
        var lines = ""
        for minute in 0..<minutes {
            let time = "2026-11-24T\(String(format: "%02d:%02d", 8 + minute / 60, minute % 60)):30Z"
            lines += #"{"metric_name":"m","value":\#(value(minute)),"tenant_id":"t","timestamp":"\#(time)"}"# + "\n"
            lines += #"{"type":"performance","route":"/a","response_time":\#(value(minute) + 1),"tenant_id":"t","timestamp":"\#(time)"}"# + "\n"
        }
        // Closes the last minute.
        lines += #"{"metric_name":"later","value":0,"tenant_id":"t","timestamp":"2026-11-24T11:02:00Z"}"# + "\n"
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: lines, contentType: "application/x-ndjson").status == 202)
    }

    /// A server restarted on the data directory of one that was fed and stopped: everything is
    /// in the store, nothing in the dashboard's memory.
    static func restarted() async throws -> LiveServer {
        let first = try await LiveServer.start()
        try await feed(first)
        try await first.stop()
        return try await LiveServer.start(dataDirectory: first.dataDirectory)
    }

    static func csv(_ server: LiveServer, _ path: String) async throws -> [[String: String]] {
        let reply = try await server.request("GET", path)
        #expect(reply.status == 200, "\(path): \(reply.body)")
        let lines = reply.body.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    @Test("after a restart the widgets draw the stored windows of the range, one point per window, with the values posted")
    func afterRestart() async throws {
        let server = try await Self.restarted()
        let rows = try await Self.csv(server, "/widgets/analytics-charts?format=csv&tenant=t&series=m&from=2026-11-24T08:00:00Z&to=2026-11-24T11:00:00Z")
        let means = rows.filter { $0["chart"] == "m" && $0["series"] == "mean" }
        #expect(means.count == Self.minutes, "one point per stored window (\(means.count))")
        for (minute, row) in means.enumerated() {
            #expect(Double(row["value"] ?? "") == Double(Self.value(minute)), "minute \(minute): \(row)")
        }
        let page = try await server.request("GET", "/?tenant=t&from=2026-11-24T08:00:00Z&to=2026-11-24T11:00:00Z")
        #expect(page.body.contains(#"data-points="540""#), "p50, p95 and p99 of 180 stored windows are drawn")
        try await server.stop()
    }

    @Test("a range longer than a chart draws is rolled up into whole steps whose counts add up to every sample")
    func rolledUp() async throws {
        let server = try await Self.restarted()
        // A week: 10,080 one-minute windows would be too many points; steps of an hour are not.
        let rows = try await Self.csv(server, "/widgets/performance-dashboard?format=csv&tenant=t&from=2026-11-18T11:00:00Z&to=2026-11-25T11:00:00Z")
        #expect(rows.count == 3, "three hourly steps hold the three hours (\(rows.map { $0["start"] ?? "" }))")
        #expect(rows.map { $0["start"] } == ["2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"])
        #expect(rows.compactMap { Int($0["response_time_count"] ?? "") }.reduce(0, +) == Self.minutes)
        let maxima = rows.compactMap { Double($0["response_time_mean"] ?? "") }
        let expected = (0..<3).map { hour in Double((0..<60).map { Self.value(hour * 60 + $0) + 1 }.reduce(0, +)) / 60 }
        #expect(maxima == expected, "each step's mean is its hour's mean")
        try await server.stop()
    }
}

extension DashboardHistoryTests {
    @Test("after a restart the charts still mark the range's anomalies, with the reason the detector gave")
    func anomaliesAfterRestart() async throws {
        let fixture = FixtureLocator.fixtures() + "/anomalies"
        let input = try #require(TestFiles.readString(fixture + "/input.ndjson"))
        let expected = try #require(TestFiles.readString(fixture + "/expected.ndjson"))
        let reasons = expected.split(separator: "\n").compactMap { line -> String? in
            guard line.contains(#""type":"anomaly""#), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["reason"] as? String
        }
        #expect(!reasons.isEmpty)
        let first = try await LiveServer.start("pipeline: {windows: [10s]}")
        // A later record closes the fixture's last windows (a graceful stop keeps open ones open).
        let closer = #"{"metric_name":"later","value":0,"tenant_id":"shop","timestamp":"2026-11-24T10:30:00Z"}"#
        #expect(try await first.request("POST", "/api/v2/analytics/metrics", body: input + closer + "\n", contentType: "application/x-ndjson").status == 202)
        try await first.stop()
        let server = try await LiveServer.start("pipeline: {windows: [10s]}", dataDirectory: first.dataDirectory)
        let page = try await server.request("GET", "/widgets/performance-dashboard?tenant=shop&route=/checkout&from=2026-11-24T10:00:00Z&to=2026-11-24T10:20:00Z")
        let stored = try await server.request("GET", "/api/v2/analytics/anomalies?tenant=shop")
        #expect(stored.body.contains("p99"), "\(stored.body)")
        for reason in reasons {
            let escaped = reason.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            #expect(page.body.contains("<g class=\"anomaly\" data-reason=") && page.body.contains(escaped), "the chart marks \(reason)")
        }
        try await server.stop()
    }
}
