import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// The same raw samples in VictoriaMetrics and in Sluice: the same queries answer the same
/// numbers. VictoriaMetrics keeps `__name__` on some functions where Prometheus drops it,
/// so series are compared by their other labels.
@Suite("Sluice answers as VictoriaMetrics does", .serialized, .timeLimit(.minutes(10)))
struct VictoriaMetricsComparisonTests {
    /// A range query's matrix: labels without `__name__` → time → value.
    static func matrix(_ body: String) throws -> [[String: String]: [Double: Double]] {
        let envelope = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(body)")
        #expect(envelope["status"] as? String == "success", "\(body)")
        var out: [[String: String]: [Double: Double]] = [:]
        for series in (envelope["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? [] {
            var labels = series["metric"] as? [String: String] ?? [:]
            labels["__name__"] = nil
            for point in series["values"] as? [[Any]] ?? [] {
                guard let time = (point[0] as? NSNumber)?.doubleValue, let value = (point[1] as? String).flatMap(Double.init) else { continue }
                out[labels, default: [:]][time] = value
            }
        }
        return out
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)) }

    static let queries = [
        "temperature", #"{__name__=~"temperature|http_requests_total", tenant_id="site-a"}"#, #"temperature{room!="r2"}"#,
        "sum by (tenant_id) (temperature)", "sum(http_requests_total) by (job)", "rate(http_requests_total[5m])",
        #"rate(http_requests_total{job=~"a.*"}[2m])"#, "max_over_time(temperature[10m])", "sum by (room) (max_over_time(temperature[10m]))",
    ]

    @Test("selectors, sum by, rate and max_over_time: Sluice and VictoriaMetrics agree on every series and step")
    func sameAnswers() async throws {
        let data = PromTestData()
        let vm = try await VictoriaMetrics.start()
        defer { vm.stop() }
        try await vm.importLines(data.importLines)
        try await vm.waitForSeries(#"{__name__=~"temperature|http_requests_total"}"#, count: data.series.count, start: data.first, end: data.last)
        let server = try await LiveServer.loaded(records: data.records)
        try await server.serving { server in
            for query in Self.queries {
                // Whole minutes inside the data (samples sit 7 s past each minute, 15 s apart).
                let parameters = [("query", query), ("start", "\(data.base + 600)"), ("end", "\(data.base + 1_500)"), ("step", "60")]
                let (_, vmBody) = try await TestPeer.get(vm.url + TestPeer.query("/api/v1/query_range", parameters + [("nocache", "1")]))
                let sluiceBody = try await server.request("GET", TestPeer.query("/api/v1/query_range", parameters)).body
                let expected = try Self.matrix(vmBody)
                let actual = try Self.matrix(sluiceBody)
                #expect(!expected.isEmpty, "VictoriaMetrics answered nothing for \(query): \(vmBody)")
                #expect(Set(actual.keys) == Set(expected.keys), "\(query)")
                for (labels, points) in expected {
                    let mine = actual[labels] ?? [:]
                    #expect(Set(mine.keys) == Set(points.keys), "\(query) \(labels): steps")
                    for (time, value) in points where !(mine[time].map { Self.close($0, value) } ?? false) {
                        Issue.record("\(query) \(labels) at \(time): Sluice \(mine[time].map { "\($0)" } ?? "nothing"), VictoriaMetrics \(value)")
                    }
                }
            }
        }
    }
}
