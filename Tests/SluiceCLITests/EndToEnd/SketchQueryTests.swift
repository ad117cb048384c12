import Foundation
import Testing
import SluiceModel
import SluiceTesting

/// Answers that combine stored windows — every route of a tenant, an hour of 1m windows —
/// merge the windows' sketches: percentiles within 1% of the exact sample of that rank over
/// the raw samples, unique visitors within 2% of the distinct ids sent. The oracle is the raw
/// input, kept by the test; the store is written by `replay` and read back by `serve`.
@Suite("Queries that merge sketches", .serialized, .timeLimit(.minutes(10)))
struct SketchQueryTests {
    static let t0: Int64 = 1_795_514_400  // 2026-11-24T10:00:00Z, on the hour
    static let routes = ["/checkout", "/search", "/static"]

    /// Two hours of performance samples on three routes with very different shapes, and
    /// visits from a pool of 4,000 visitors; values written the ways clients write numbers.
    static func workload() -> (lines: [String], samples: [(second: Int64, route: String, value: Double)], visitors: [(second: Int64, id: String)]) {
        var random = SeededRandom(seed: 2026)
        var lines: [String] = []
        var samples: [(Int64, String, Double)] = []
        var visitors: [(Int64, String)] = []
        for second in stride(from: t0, to: t0 + 7_200, by: 2) {
            for (r, route) in routes.enumerated() where random.unit() < [0.9, 0.5, 0.2][r] {
                let value: Double
                switch r {
                case 0: value = (exp(random.gaussian() * 0.4 + 5) * 100).rounded() / 100
                case 1: value = (exp(random.gaussian() * 0.8 + 3) * 1000).rounded() / 1000
                default: value = Double(Int(1 / pow(1 - random.unit(), 1 / 1.3)))
                }
                samples.append((second, route, value))
                let number = value == value.rounded() && r == 2 ? String(Int(value)) : "\(value)"
                lines.append(#"{"type":"performance","timestamp":\#(second),"tenant_id":"shop","route":"\#(route)","response_time":\#(number)}"#)
            }
            let id = "visitor-\(Int(random.unit() * 4_000))"
            visitors.append((second, id))
            lines.append(#"{"timestamp":"\#(RFC3339.format(Timestamp(microseconds: second * 1_000_000)))","type":"visit","tenant_id":"shop","visitor_id":"\#(id)"}"#)
        }
        return (lines, samples, visitors)
    }

    static func exact(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[max(1, Int((q * Double(sorted.count) - 1e-9).rounded(.up))) - 1]
    }

    static func close(_ estimate: Any?, _ exact: Double) -> Bool {
        guard let estimate = estimate as? Double ?? (estimate as? Int).map(Double.init) else { return false }
        return abs(estimate - exact) <= 0.01 * abs(exact) + 1e-9
    }

    static func json(_ text: String) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
    }

    static func second(_ rfc3339: Any?) -> Int64 {
        Int64(ISO8601DateFormatter().date(from: rfc3339 as? String ?? "")?.timeIntervalSince1970 ?? -1)
    }

    @Test("performance without a route, aggregate with step=1h and unique visitors per hour merge the stored sketches")
    func merges() async throws {
        let (lines, samples, visitors) = Self.workload()
        let dir = TestFiles.temporaryDirectory("sluice-sketches")
        #expect(TestFiles.write("\(dir)/input.ndjson", lines.joined(separator: "\n") + "\n"))
        let replay = try await SluiceBinary.run(["replay", "--window", "1m", "--data-dir", "\(dir)/data", "\(dir)/input.ndjson"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let server = try ServerProcess(arguments: ["serve", "--http", "127.0.0.1:0", "--data-dir", "\(dir)/data"])
        // A failed expectation below must not leave the server running.
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Every route of the tenant, per minute: one object per window.
        let minutes = Self.json(try await server.get("/api/v2/analytics/performance?tenant=shop&window=60s"))
        #expect(minutes.count == 120)
        for object in minutes {
            let start = Self.second(object["start"])
            let values = samples.filter { $0.second >= start && $0.second < start + 60 }.map(\.value)
            let rt = object["response_time"] as? [String: Any] ?? [:]
            #expect(rt["count"] as? Int == values.count)
            for q in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
                #expect(Self.close(rt[q.0], Self.exact(values, q.1)), "\(object["start"] ?? "") \(q.0): \(rt[q.0] ?? "nil") vs \(Self.exact(values, q.1))")
            }
        }

        // Every route, per hour.
        let hours = Self.json(try await server.get("/api/v2/analytics/performance?tenant=shop&step=1h"))
        #expect(hours.count == 2)
        for object in hours {
            let start = Self.second(object["start"])
            #expect(object["window"] as? String == "3600s")
            let values = samples.filter { $0.second >= start && $0.second < start + 3_600 }.map(\.value)
            let rt = object["response_time"] as? [String: Any] ?? [:]
            #expect(rt["count"] as? Int == values.count)
            for q in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                #expect(Self.close(rt[q.0], Self.exact(values, q.1)), "hour \(start) \(q.0)")
            }
        }

        // One record per route per hour.
        let windows = Self.json(try await server.get("/api/v2/analytics/aggregate?tenant=shop&metric=response_time&step=1h"))
        #expect(windows.count == 6)
        for w in windows {
            let start = Self.second(w["start"])
            let route = (w["labels"] as? [String: String])?["route"]
            let values = samples.filter { $0.second >= start && $0.second < start + 3_600 && $0.route == route }.map(\.value)
            #expect(w["count"] as? Int == values.count)
            #expect(Self.close(w["max"], values.max() ?? .nan))
            for q in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
                #expect(Self.close(w[q.0], Self.exact(values, q.1)), "\(route ?? "") \(start) \(q.0)")
            }
        }

        // Unique visitors of each hour, not of its busiest minute.
        let visits = Self.json(try await server.get("/api/v2/analytics/aggregate?tenant=shop&metric=unique_visitors&step=1h"))
        #expect(visits.count == 2)
        for v in visits {
            let start = Self.second(v["start"])
            let hour = visitors.filter { $0.second >= start && $0.second < start + 3_600 }
            let distinct = Double(Set(hour.map(\.id)).count)
            #expect(v["visits"] as? Int == hour.count)
            let unique = Double(v["unique_visitors"] as? Int ?? 0)
            #expect(abs(unique - distinct) / distinct <= 0.02, "\(unique) vs \(distinct) distinct")
        }

        let refused = try await server.get("/api/v2/analytics/aggregate?tenant=shop&step=90s")
        #expect(refused.contains("step=90s is not a multiple of the 60s window"), "\(refused)")
        #expect(try await server.terminate() == 0, "\(server.stderr)")
    }
}
