import Foundation
import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceCLI

/// The whole pipeline against an independent computation: Foundation's JSON parser and plain
/// loops, over a mixed workload of all five record types with out-of-order and late events and
/// malformed lines mixed in.
@Suite("Mixed workload")
struct MixedWorkloadTests {
    static let lateness: Int64 = 5_000_000
    static let lengths: [Int64] = [60_000_000, 3_600_000_000]

    struct Key: Hashable, Comparable {
        var type: String, length: Int64, start: Int64, tenant: String, name: String, labels: String
        static func < (l: Key, r: Key) -> Bool {
            (l.type, l.length, l.start, l.tenant, l.name, l.labels) < (r.type, r.length, r.start, r.tenant, r.name, r.labels)
        }
    }

    struct Expected {
        var values: [Double] = []
        var hits: UInt64 = 0, misses: UInt64 = 0, size: UInt64 = 0, sizeTime = Int64.min
        var visits = 0
        var visitors = Set<String>()
    }

    /// The oracle: design §3's rules, written out plainly.
    static func expected(_ lines: [String], skipping bad: Set<Int>) -> (windows: [Key: Expected], late: Int, records: Int) {
        var windows: [Key: Expected] = [:]
        var maxTime = Int64.min
        var late = 0, records = 0
        for (i, line) in lines.enumerated() where !bad.contains(i + 1) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let ts = object["timestamp"] as? Double else { continue }
            records += 1
            let t = Int64((ts * 1_000_000).rounded())
            let tenant = object["tenant_id"] as? String ?? "-"
            let type = object["type"] as? String ?? "metric"
            var wasLate = false
            if type != "token_usage" {
                for length in lengths {
                    let start = t - ((t % length) + length) % length
                    if maxTime != .min, start + length <= maxTime - lateness { wasLate = true; continue }
                    func add(_ key: Key, _ body: (inout Expected) -> Void) { body(&windows[key, default: Expected()]) }
                    switch type {
                    case "metric":
                        add(Key(type: "window", length: length, start: start, tenant: tenant, name: object["metric_name"] as! String, labels: "")) {
                            $0.values.append(object["value"] as! Double)
                        }
                    case "performance":
                        let route = "route=\(object["route"] as! String)"
                        for name in ["response_time", "db_query_time", "memory_usage"] {
                            add(Key(type: "window", length: length, start: start, tenant: tenant, name: name, labels: route)) {
                                $0.values.append(object[name] as! Double)
                            }
                        }
                    case "cache":
                        add(Key(type: "cache_window", length: length, start: start, tenant: tenant, name: object["cache"] as! String, labels: "")) {
                            $0.hits += (object["hits"] as! NSNumber).uint64Value
                            $0.misses += (object["misses"] as! NSNumber).uint64Value
                            if t >= $0.sizeTime { $0.sizeTime = t; $0.size = (object["size_kb"] as! NSNumber).uint64Value }
                        }
                    default:
                        add(Key(type: "visits_window", length: length, start: start, tenant: tenant, name: "", labels: "")) {
                            $0.visits += 1
                            $0.visitors.insert(object["visitor_id"] as! String)
                        }
                    }
                }
            }
            if wasLate { late += 1 }
            maxTime = max(maxTime, t)
        }
        return (windows, late, records)
    }

    static func nearestRank(_ sorted: [Double], _ q: Double) -> Double {
        sorted[max(1, Int((q * Double(sorted.count) - 1e-9).rounded(.up))) - 1]
    }

    @Test("exact counts, sums, min, max; percentiles within 1%; unique visitors within 2%; the right late count; every bad line reported")
    func matchesIndependentComputation() async throws {
        var lines = String(decoding: Workload.mixedLines(count: 120_000, seed: 11, tenants: 4, visitors: 5_000), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        // Malformed lines at known places.
        var badLineNumbers: [Int] = []
        for (i, bad) in [#"{"metric_name":"orders","value":"x","timestamp":1795600000}"#, "{oops", #"{"type":"visit","timestamp":1795600001}"#].enumerated() {
            for position in stride(from: 997 + i * 331, to: lines.count, by: 9_973) { lines.insert(bad, at: position) }
        }
        for (i, line) in lines.enumerated() where line.hasPrefix("{oops") || line.contains(#""value":"x""#) || line == #"{"type":"visit","timestamp":1795600001}"# {
            badLineNumbers.append(i + 1)
        }

        let harness = PipelineHarness(windows: [.minutes(1), .hours(1)], lateness: .seconds(5))
        let result = try await harness.run(Array((lines.joined(separator: "\n") + "\n").utf8), chunkBytes: 100_003)
        let oracle = Self.expected(lines, skipping: Set(badLineNumbers))

        #expect(result.errors.map(\.line) == badLineNumbers)
        guard case .summary(let summary) = result.records.last else { Issue.record("no summary"); return }
        #expect(summary.records == UInt64(oracle.records))
        #expect(summary.errors == UInt64(badLineNumbers.count))
        #expect(summary.late == UInt64(oracle.late))
        #expect(oracle.late > 100, "the workload should have late events")

        var seen = Set<Key>()
        var dense = 0
        for record in result.records {
            switch record {
            case .window(let w):
                let key = Key(type: "window", length: w.span.length.microseconds, start: w.span.start.microseconds, tenant: w.series.tenantID ?? "-",
                              name: w.series.name, labels: w.series.labels.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
                seen.insert(key)
                guard let e = oracle.windows[key] else { Issue.record("unexpected \(key)"); continue }
                let sorted = e.values.sorted()
                #expect(w.count == UInt64(sorted.count))
                #expect(w.sum == sorted.reduce(0, +))
                #expect(w.min == sorted.first && w.max == sorted.last)
                #expect(w.mean == sorted.reduce(0, +) / Double(sorted.count))
                for (q, estimate) in [(0.5, w.p50), (0.9, w.p90), (0.95, w.p95), (0.99, w.p99)] {
                    let exact = Self.nearestRank(sorted, q)
                    #expect(abs(estimate - exact) <= 0.01 * abs(exact), "\(key) q=\(q): \(estimate) vs \(exact)")
                }
            case .cacheWindow(let c):
                let key = Key(type: "cache_window", length: c.span.length.microseconds, start: c.span.start.microseconds, tenant: c.tenantID ?? "-", name: c.cache ?? "", labels: "")
                seen.insert(key)
                guard let e = oracle.windows[key] else { Issue.record("unexpected \(key)"); continue }
                #expect(c.hits == e.hits && c.misses == e.misses && c.sizeKB == e.size, "\(key)")
            case .visitsWindow(let v):
                let key = Key(type: "visits_window", length: v.span.length.microseconds, start: v.span.start.microseconds, tenant: v.tenantID ?? "-", name: "", labels: "")
                seen.insert(key)
                guard let e = oracle.windows[key] else { Issue.record("unexpected \(key)"); continue }
                #expect(v.visits == UInt64(e.visits))
                let distinct = Double(e.visitors.count)
                if distinct > 1_000 {
                    #expect(abs(Double(v.uniqueVisitors) - distinct) <= 0.02 * distinct, "\(key): \(v.uniqueVisitors) vs \(distinct)")
                    if distinct > 2_048 { dense += 1 }
                } else {
                    #expect(v.uniqueVisitors == UInt64(distinct))
                }
            default:
                break
            }
        }
        #expect(seen == Set(oracle.windows.keys), "windows missing from the output: \(Set(oracle.windows.keys).subtracting(seen).sorted().prefix(3))")
        #expect(dense > 0, "the workload should exercise the dense HyperLogLog")
    }

    @Test("output does not depend on how the input is cut into chunks")
    func chunkingIndependent() async throws {
        let bytes = Workload.mixedLines(count: 20_000, seed: 3)
        let harness = PipelineHarness(windows: [.seconds(10), .minutes(1)])
        let whole = try await harness.run(bytes, chunkBytes: bytes.count)
        for chunk in [1_000, 4_096, 65_537] {
            let cut = try await harness.run(bytes, chunkBytes: chunk)
            #expect(cut.ndjson == whole.ndjson, "chunks of \(chunk) bytes")
        }
    }
}
