import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceServerTesting

/// What a real client sent to one series, and what Sluice's windows of one length add up to
/// for it: count, sum, minimum and maximum. The clients' scripts print their side (floats in
/// hexadecimal, so nothing is lost on the way); `windows` reads Sluice's.
struct ClientTotals: Equatable, CustomStringConvertible {
    var count: Int
    var sum: Double
    var min: Double
    var max: Double

    var description: String { "count \(count), sum \(sum), min \(min), max \(max)" }

    /// A series as both sides name it: tenant, metric name and labels.
    struct Series: Hashable, CustomStringConvertible {
        var tenant: String?
        var name: String
        var labels: [String: String]
        var description: String { "\(tenant ?? "-")/\(name)\(labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })" }
    }

    /// The client's side: `[{"name", "tenant", "labels", "count", "sum", "min", "max"}]`.
    static func sent(_ list: Any?) -> [Series: ClientTotals] {
        var out: [Series: ClientTotals] = [:]
        for item in list as? [[String: Any]] ?? [] {
            let series = Series(tenant: item["tenant"] as? String, name: item["name"] as! String, labels: item["labels"] as? [String: String] ?? [:])
            out[series] = ClientTotals(count: item["count"] as! Int, sum: Double(item["sum"] as! String)!,
                                       min: Double(item["min"] as! String)!, max: Double(item["max"] as! String)!)
        }
        return out
    }

    /// Sluice's side: every window of `length` of these metrics (closed and open), added up
    /// per series. Counts, minima and maxima add up exactly across windows; sums do too when
    /// all of a series' samples fall in one window, or when they are small binary fractions.
    static func windows(_ server: LiveServer, metrics: Set<String>, length: String, token: String) async throws -> [Series: ClientTotals] {
        var out: [Series: ClientTotals] = [:]
        for metric in metrics {
            let reply = try await server.request("GET", TestPeer.query("/api/v2/analytics/aggregate", [("metric", metric), ("window", length)]), token: token)
            guard reply.status == 200 else { throw TestPeer.Failure(description: "aggregate answered \(reply.status): \(reply.body)") }
            for window in reply.json as? [[String: Any]] ?? [] {
                let series = Series(tenant: window["tenant_id"] as? String, name: window["metric_name"] as! String,
                                    labels: window["labels"] as? [String: String] ?? [:])
                let next = ClientTotals(count: window["count"] as! Int, sum: number(window["sum"]), min: number(window["min"]), max: number(window["max"]))
                if let seen = out[series] {
                    out[series] = ClientTotals(count: seen.count + next.count, sum: seen.sum + next.sum,
                                               min: Swift.min(seen.min, next.min), max: Swift.max(seen.max, next.max))
                } else {
                    out[series] = next
                }
            }
        }
        return out
    }

    /// A JSON number as the double it spells: re-read from its text, correctly rounded.
    static func number(_ value: Any?) -> Double {
        guard let number = value as? NSNumber else { return .nan }
        return Double(number.description) ?? number.doubleValue
    }

    /// Polls until `condition` holds for what Sluice's windows show (or the suite's time limit
    /// ends the test), then returns them.
    static func waitForWindows(_ server: LiveServer, metrics: Set<String>, length: String, token: String,
                               until condition: ([Series: ClientTotals]) async throws -> Bool) async throws -> [Series: ClientTotals] {
        while true {
            let seen = try await windows(server, metrics: metrics, length: length, token: token)
            if try await condition(seen) { return seen }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
