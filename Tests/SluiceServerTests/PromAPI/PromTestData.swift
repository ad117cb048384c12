import Foundation
import SluiceModel
import SluiceServerTesting

/// Raw samples that the read API tests load into Sluice (as `metric` records) and into
/// VictoriaMetrics (as JSON lines): counters and gauges of two tenants, every 15 s for 30
/// minutes from an hour ago. Samples sit 7 s after each minute, so that no evaluation step
/// falls on a sample and open and closed range ends cannot differ.
struct PromTestData {
    struct Series {
        var name: String
        var labels: [String: String]
        var tenant: String
        var values: [Double]
    }

    static let samplesPerSeries = 120
    /// Whole minutes since the epoch, about an hour ago (VictoriaMetrics keeps a month).
    let base: Int64
    let series: [Series]

    init(now: Int64 = Int64(Date().timeIntervalSince1970)) {
        base = (now - 3_600) / 60 * 60
        let n = Self.samplesPerSeries
        series = [
            Series(name: "http_requests_total", labels: ["job": "api"], tenant: "site-a", values: (0..<n).map { 1_000 + 2 * 15 * Double($0) }),
            Series(name: "http_requests_total", labels: ["job": "web"], tenant: "site-a", values: (0..<n).map { 50 + 1.25 * 15 * Double($0) }),
            Series(name: "http_requests_total", labels: ["job": "api"], tenant: "site-b", values: (0..<n).map { 400 + 0.5 * 15 * Double($0) }),
            Series(name: "temperature", labels: ["room": "r1"], tenant: "site-a", values: (0..<n).map { 20 + Double(($0 * 7) % 11) }),
            Series(name: "temperature", labels: ["room": "r2"], tenant: "site-a", values: (0..<n).map { 15.5 + Double(($0 * 3) % 5) }),
            Series(name: "temperature", labels: ["room": "r1"], tenant: "site-b", values: (0..<n).map { 25 - Double($0 % 6) * 0.75 }),
        ]
    }

    /// The time of sample `k`, in Unix seconds.
    func time(_ k: Int) -> Int64 { base + 7 + 15 * Int64(k) }

    /// The first and last sample times.
    var first: Int64 { time(0) }
    var last: Int64 { time(Self.samplesPerSeries - 1) }

    /// Sluice `metric` records, in time order, as one JSON array.
    var records: String {
        var lines: [String] = []
        for k in 0..<Self.samplesPerSeries {
            for s in series {
                let labels = s.labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
                lines.append(#"{"type":"metric","metric_name":"\#(s.name)","value":\#(s.values[k]),"tenant_id":"\#(s.tenant)","labels":{\#(labels)},"timestamp":\#(time(k))}"#)
            }
        }
        return "[" + lines.joined(separator: ",") + "]"
    }

    /// VictoriaMetrics' JSON-lines import format, the tenant as a `tenant_id` label.
    var importLines: String {
        series.map { s in
            var metric = s.labels
            metric["__name__"] = s.name
            metric["tenant_id"] = s.tenant
            let labels = metric.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
            let values = s.values.map { "\($0)" }.joined(separator: ",")
            let times = (0..<s.values.count).map { "\(time($0) * 1_000)" }.joined(separator: ",")
            return #"{"metric":{\#(labels)},"values":[\#(values)],"timestamps":[\#(times)]}"#
        }.joined(separator: "\n")
    }

    /// The latest value of each series at `t` (Unix seconds), by "name|tenant|label values".
    func latest(at t: Int64) -> [Series: Double] {
        var out: [Series: Double] = [:]
        for s in series {
            guard let k = (0..<Self.samplesPerSeries).last(where: { time($0) <= t }), t - time(k) < 300 else { continue }
            out[s] = s.values[k]
        }
        return out
    }
}

extension PromTestData.Series: Hashable {}

extension LiveServer {
    /// A server with `records` ingested and everything in its store: it takes them, stops
    /// (which drains the pipeline and seals the store) and starts again on the same data.
    static func loaded(_ yaml: String = "", records: String, token: String? = nil) async throws -> LiveServer {
        let first = try await LiveServer.start(yaml)
        let reply = try await first.request("POST", "/api/v2/analytics/metrics", body: records, token: token)
        guard reply.status == 202 else {
            try await first.stop()
            throw TestPeer.Failure(description: "ingest answered \(reply.status): \(reply.body.prefix(500))")
        }
        try await first.stop()
        return try await LiveServer.start(yaml, dataDirectory: first.dataDirectory)
    }

    /// Runs `body`, then stops the server, also when `body` throws.
    func serving(_ body: (LiveServer) async throws -> Void) async throws {
        do {
            try await body(self)
        } catch {
            try? await stop()
            throw error
        }
        try await stop()
    }

    /// A Prometheus API call (GET), its envelope parsed.
    func prom(_ path: String, _ parameters: [(String, String)], token: String? = nil) async throws -> (status: Int, envelope: [String: Any]) {
        let reply = try await request("GET", TestPeer.query(path, parameters), token: token)
        return (reply.status, reply.json as? [String: Any] ?? ["unparsed": reply.body])
    }
}
