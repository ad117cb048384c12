import Foundation
import Testing
import SluiceModel
import SluiceTesting
@testable import SluiceCLI

/// Every source goes through the one ingest edge: the same escaped workload, sent through
/// stdin, HTTP (NDJSON and JSON arrays) and TCP, gives the windows of an independent
/// computation, the store returns every valid record, and no window is stored twice.
@Suite("Every source, one edge", .serialized, .timeLimit(.minutes(10)))
struct SourcesTests {
    enum Source: String, CaseIterable, Sendable {
        case stdin, httpNDJSON, httpArray, tcp
    }

    /// The mixed workload with every string randomly `\u`-escaped, and bad lines at known places.
    static func workload(arrays: Bool) -> (lines: [String], bad: Set<Int>) {
        var random = SeededRandom(seed: 17)
        var lines = String(decoding: Workload.mixedLines(count: 30_000, seed: 23, tenants: 3, visitors: 1_500), as: UTF8.self)
            .split(separator: "\n").map { String(decoding: EscapedFixtureTests.escape(Array($0.utf8), random: &random), as: UTF8.self) }
        // Valid JSON that is not a valid record: refused alone, by line or element number. (A
        // line that is not JSON at all would make a whole array invalid, so arrays go without.)
        var bads = [#"{"metric_name":"orders","value":"x","timestamp":1795600000}"#, #"{"\u0074ype":"visit","timestamp":1795600001}"#]
        if !arrays { bads.append("{oops") }
        for (i, bad) in bads.enumerated() {
            for position in stride(from: 501 + i * 97, to: lines.count, by: 4_999) { lines.insert(bad, at: position) }
        }
        let bad = Set(lines.indices.filter { bads.contains(lines[$0]) }.map { $0 + 1 })
        return (lines, bad)
    }

    @Test("the same windows as an independent computation, every valid record stored, no window twice", arguments: Source.allCases)
    func sourceAgrees(_ source: Source) async throws {
        let (lines, bad) = Self.workload(arrays: source == .httpArray)
        let oracle = MixedWorkloadTests.expected(lines, skipping: bad)
        let dir = TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let windowFlags = ["--window", "1m", "--window", "1h", "--lateness", "5s"]

        switch source {
        case .stdin:
            let run = try await SluiceBinary.run(["run", "--data-dir", "\(dir)/data"] + windowFlags, stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == bad.count, "one diagnostic per bad line")
        case .httpNDJSON, .httpArray, .tcp:
            _ = TestFiles.write("\(dir)/sluice.yml", "pipeline:\n  windows: [1m, 1h]\n  lateness: 5s\n")
            let server = try ServerProcess(arguments: ["serve", "--config", "\(dir)/sluice.yml", "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--data-dir", "\(dir)/data"])
            var rejected: [Int] = []
            if source == .tcp {
                try await offThePool { try server.sendTCP(Array((lines.joined(separator: "\n") + "\n").utf8)) }
                // TCP has no answer: wait until the server has counted every line.
                try await server.waitForCounted(lines.count)
            } else {
                var offset = 0
                for size in [1_000, 2_500, 5_000].cycled(until: lines.count) {
                    let part = lines[offset..<min(lines.count, offset + size)]
                    let body = source == .httpArray ? "[" + part.joined(separator: ",\n") + "]" : part.joined(separator: "\n") + "\n"
                    let answer = try await server.post(body, contentType: source == .httpArray ? "application/json" : "application/x-ndjson")
                    #expect(answer.status == (part.indices.contains { bad.contains($0 + 1) } ? 400 : 202), "\(answer.body.prefix(300))")
                    rejected += answer.rejectedLines.map { $0 + offset }
                    offset += part.count
                }
                #expect(rejected == bad.sorted(), "rejections numbered by line or element")
            }
            let status = try await server.terminate()
            #expect(status == 0, "serve exits 0 after SIGTERM: \(server.stderr)")
            // The open windows were checkpointed, not stored: an empty replay on the same data
            // directory resumes them, and its end of input closes and stores them.
            let resumed = try await SluiceBinary.run(["replay", "/dev/null", "--data-dir", "\(dir)/data"] + windowFlags)
            #expect(resumed.status == 0, "\(resumed.stderr)")
        }

        let stored = try await Self.query(dir, type: "window") + Self.query(dir, type: "cache_window") + Self.query(dir, type: "visits_window")
        var seen: [MixedWorkloadTests.Key: Int] = [:]
        for object in stored {
            let key = Self.key(object)
            seen[key, default: 0] += 1
            guard let e = oracle.windows[key] else { Issue.record("unexpected \(key)"); continue }
            switch key.type {
            case "window":
                let sorted = e.values.sorted()
                #expect(object["count"] as? Int == sorted.count, "\(key)")
                #expect((object["sum"] as? NSNumber)?.doubleValue == sorted.reduce(0, +), "\(key)")
                #expect((object["min"] as? NSNumber)?.doubleValue == sorted.first && (object["max"] as? NSNumber)?.doubleValue == sorted.last, "\(key)")
                let p99 = (object["p99"] as? NSNumber)?.doubleValue ?? .nan
                let exact = MixedWorkloadTests.nearestRank(sorted, 0.99)
                #expect(abs(p99 - exact) <= 0.01 * abs(exact), "\(key): p99 \(p99) vs \(exact)")
            case "cache_window":
                #expect(object["hits"] as? Int == Int(e.hits) && object["misses"] as? Int == Int(e.misses), "\(key)")
            default:
                #expect(object["visits"] as? Int == e.visits, "\(key)")
            }
        }
        #expect(seen.values.allSatisfy { $0 == 1 }, "stored twice: \(seen.filter { $0.value > 1 }.keys.sorted().prefix(3))")
        #expect(Set(seen.keys) == Set(oracle.windows.keys), "missing: \(Set(oracle.windows.keys).subtracting(seen.keys).sorted().prefix(3))")

        var raw = 0
        for type in ["metric", "cache", "performance", "visit", "token_usage"] { raw += try await Self.query(dir, type: type).count }
        #expect(raw == oracle.records, "every valid record is stored, once")
    }

    static func query(_ dir: String, type: String) async throws -> [[String: Any]] {
        let result = try await SluiceBinary.run(["query", "--data-dir", "\(dir)/data", "--type", type])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func key(_ o: [String: Any]) -> MixedWorkloadTests.Key {
        let length: Int64 = (o["window"] as? String) == "60s" ? 60_000_000 : 3_600_000_000
        let start = Int64((ISO8601DateFormatter().date(from: o["start"] as! String)!.timeIntervalSince1970 * 1_000_000).rounded())
        let labels = (o["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let type = o["type"] as! String
        let name = type == "window" ? o["metric_name"] as! String : type == "cache_window" ? o["cache"] as? String ?? "" : ""
        return .init(type: type, length: length, start: start, tenant: o["tenant_id"] as? String ?? "-", name: name, labels: type == "window" ? labels : "")
    }
}

extension Array where Element == Int {
    /// The sizes repeated until they add up to at least `total`.
    func cycled(until total: Int) -> [Int] {
        var out: [Int] = []
        var sum = 0
        while sum < total, let next = self[safe: out.count % count] {
            out.append(next)
            sum += next
        }
        return out
    }

    subscript(safe i: Int) -> Int? { indices.contains(i) ? self[i] : nil }
}
