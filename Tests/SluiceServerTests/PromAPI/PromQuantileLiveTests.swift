import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// `quantile_over_time` on a live server: the sketches of an hour of one-minute windows merged,
/// compared with the exact nearest-rank value of the raw samples sent.
@Suite("quantile_over_time on a live server", .serialized)
struct PromQuantileLiveTests {
    /// A deterministic generator (SplitMix64), so that a failure can be replayed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    static func nearestRank(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
    }

    @Test("quantile_over_time(q, response_time[1h]) over 60 windows is within 1% of the exact rank, per route")
    func accuracy() async throws {
        let hour = (Int64(Date().timeIntervalSince1970) - 7_200) / 3_600 * 3_600
        var random = SplitMix(state: 42)
        var values: [String: [Double]] = ["/api": [], "/home": []]
        var records: [String] = []
        for minute in 0..<60 {
            for i in 0..<100 {
                let time = Double(hour) + Double(minute * 60) + Double(i) * 0.6
                // Log-normal-like response times whose scale grows through the hour: the
                // windows differ, so neither one window's percentile nor an average of them
                // is near the hour's.
                let api = exp(3 + 1.2 * (random.next() + random.next() + random.next() - 1.5)) * (1 + Double(minute) / 6)
                let home = 5 + 200 * random.next() * random.next()
                values["/api"]!.append(api)
                values["/home"]!.append(home)
                records.append(#"{"type":"performance","tenant_id":"site-a","route":"/api","response_time":\#(api),"timestamp":\#(time)}"#)
                records.append(#"{"type":"performance","tenant_id":"site-a","route":"/home","response_time":\#(home),"timestamp":\#(time)}"#)
            }
        }
        // A later record moves the watermark past the hour, so every window closes.
        records.append(#"{"type":"metric","metric_name":"tick","value":1,"tenant_id":"site-a","timestamp":\#(hour + 3_700)}"#)
        let server = try await LiveServer.loaded(records: "[" + records.joined(separator: ",") + "]")
        try await server.serving { server in
            for q in [0.5, 0.9, 0.99] {
                let answer = try await server.prom("/api/v1/query", [("query", "quantile_over_time(\(q), response_time[1h])"), ("time", "\(hour + 3_600)")])
                #expect(answer.status == 200)
                #expect(answer.envelope["warnings"] == nil, "every window kept its sketch")
                let result = PromAPILiveTests.vector(answer.envelope)
                #expect(result.count == 2, "one series per route: \(answer.envelope)")
                for (route, samples) in values {
                    let exact = Self.nearestRank(samples, q)
                    let got = result[["route": route, "tenant_id": "site-a", "window": "60s"]]
                    #expect(got.map { abs($0 - exact) <= 0.01 * exact } == true, "q=\(q) \(route): \(got ?? .nan) vs exact \(exact)")
                }
            }
            // The same hour from stored p99s would be far off: the test tells the two apart.
            let p99s = try await server.prom("/api/v1/query", [("query", #"avg_over_time(response_time:p99{route="/api"}[1h])"#), ("time", "\(hour + 3_600)")])
            let averaged = PromAPILiveTests.vector(p99s.envelope).values.first ?? 0
            let exact = Self.nearestRank(values["/api"]!, 0.99)
            #expect(abs(averaged - exact) > 0.1 * exact, "averaged window p99 \(averaged) vs exact \(exact)")
        }
    }

    @Test("windows stored before sketches were kept answer a warning, not a number from their percentiles")
    func olderFormat() async throws {
        let directory = TestFiles.temporaryDirectory("sluice-prom-v1")
        let segment = try #require(TestFiles.read("\(FixtureLocator.fixtures())/store-v1/00000000000000000001.seg"))
        try FileManager.default.createDirectory(atPath: "\(directory)/segments", withIntermediateDirectories: true)
        #expect(TestFiles.write("\(directory)/segments/00000000000000000001.seg", segment))
        let server = try await LiveServer.start(dataDirectory: directory)
        try await server.serving { server in
            let selector = #"db_query_time{tenant_id="shop-eu",route="/"}"#
            let time = "2026-11-24T10:01:00Z"
            let quantile = try await server.prom("/api/v1/query", [("query", "quantile_over_time(0.5, \(selector)[1m])"), ("time", time)])
            #expect(quantile.status == 200)
            #expect(PromAPILiveTests.vector(quantile.envelope).isEmpty)
            let warnings = quantile.envelope["warnings"] as? [String] ?? []
            #expect(warnings.count == 1)
            #expect(warnings.first?.contains("without their sketch") == true)
            // The stored statistics themselves still answer.
            let p50 = try await server.prom("/api/v1/query", [("query", #"db_query_time:p50{tenant_id="shop-eu",route="/"}"#), ("time", time)])
            #expect(PromAPILiveTests.vector(p50.envelope).values.first.map { abs($0 - 12.553937179918199) < 1e-9 } == true)
        }
    }
}
