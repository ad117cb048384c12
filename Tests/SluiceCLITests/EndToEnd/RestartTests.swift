import Foundation
import Testing
import SluiceModel
import SluiceTesting
@testable import SluiceCLI

/// Restarting `serve` on the same data directory never stores two window records for the same
/// series and window: a graceful stop checkpoints the open windows and the next start resumes
/// them; after `kill -9` the next start resumes the last checkpoint and skips what was stored
/// after it.
@Suite("Restarts", .serialized, .timeLimit(.minutes(10)))
struct RestartTests {
    static let windowFlags = ["--window", "1m", "--window", "1h", "--lateness", "5s"]

    /// The workload in `parts` consecutive slices, and its oracle.
    static func workload(parts: Int) -> (parts: [[String]], oracle: (windows: [MixedWorkloadTests.Key: MixedWorkloadTests.Expected], late: Int, records: Int)) {
        let lines = String(decoding: Workload.mixedLines(count: 24_000, seed: 29, tenants: 3, visitors: 1_000), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        let size = (lines.count + parts - 1) / parts
        let slices = stride(from: 0, to: lines.count, by: size).map { Array(lines[$0..<min(lines.count, $0 + size)]) }
        return (slices, MixedWorkloadTests.expected(lines, skipping: []))
    }

    static func serve(_ dir: String, config: String) throws -> ServerProcess {
        _ = TestFiles.write("\(dir)/sluice.yml", "pipeline:\n  windows: [1m, 1h]\n  lateness: 5s\n" + config)
        return try ServerProcess(arguments: ["serve", "--config", "\(dir)/sluice.yml", "--http", "127.0.0.1:0", "--data-dir", "\(dir)/data"])
    }

    static func post(_ lines: [String], to server: ServerProcess) async throws {
        for start in stride(from: 0, to: lines.count, by: 2_000) {
            let answer = try await server.post(lines[start..<min(lines.count, start + 2_000)].joined(separator: "\n"), contentType: "application/x-ndjson")
            #expect(answer.status == 202, "\(answer.body)")
        }
    }

    /// Every stored window record, counted by (series, window).
    static func storedWindows(_ dir: String) async throws -> [MixedWorkloadTests.Key: (count: Int, stored: Int)] {
        var out: [MixedWorkloadTests.Key: (count: Int, stored: Int)] = [:]
        for type in ["window", "cache_window", "visits_window"] {
            for object in try await SourcesTests.query(dir, type: type) {
                let count = object["count"] as? Int ?? object["visits"] as? Int ?? ((object["hits"] as? Int ?? 0) + (object["misses"] as? Int ?? 0))
                out[SourcesTests.key(object), default: (count, 0)].stored += 1
            }
        }
        return out
    }

    static func expectedCount(_ key: MixedWorkloadTests.Key, _ e: MixedWorkloadTests.Expected) -> Int {
        switch key.type {
        case "window": e.values.count
        case "cache_window": Int(e.hits + e.misses)
        default: e.visits
        }
    }

    @Test("two graceful restarts: every window stored once, exactly as one uninterrupted run would")
    func graceful() async throws {
        let (parts, oracle) = Self.workload(parts: 3)
        let dir = TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for part in parts {
            let server = try Self.serve(dir, config: "")
            try await Self.post(part, to: server)
            let status = try await server.terminate()
            #expect(status == 0, "\(server.stderr)")
        }
        let flushed = try await SluiceBinary.run(["replay", "/dev/null", "--data-dir", "\(dir)/data"] + Self.windowFlags)
        #expect(flushed.status == 0, "\(flushed.stderr)")

        let stored = try await Self.storedWindows(dir)
        #expect(stored.values.allSatisfy { $0.stored == 1 }, "stored twice: \(stored.filter { $0.value.stored > 1 }.keys.sorted().prefix(3))")
        #expect(Set(stored.keys) == Set(oracle.windows.keys), "missing: \(Set(oracle.windows.keys).subtracting(stored.keys).sorted().prefix(3))")
        for (key, e) in oracle.windows {
            #expect(stored[key]?.count == Self.expectedCount(key, e), "\(key)")
        }
    }

    @Test("kill -9 after windows closed past the last checkpoint: still no window stored twice, no closed window lost, no acknowledged record lost")
    func killed() async throws {
        let (parts, oracle) = Self.workload(parts: 4)
        let dir = TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 1. A graceful stop leaves a checkpoint.
        var server = try Self.serve(dir, config: "store:\n  fsync: always\n")
        try await Self.post(parts[0], to: server)
        #expect(try await server.terminate() == 0, "\(server.stderr)")
        // 2. A server that never checkpoints again closes and stores windows, then dies.
        server = try Self.serve(dir, config: "  checkpoint_interval: 100d\nstore:\n  fsync: always\n")
        try await Self.post(parts[1] + parts[2], to: server)
        try await server.kill9()
        // 3. The next start resumes the first checkpoint and must skip what step 2 stored.
        server = try Self.serve(dir, config: "store:\n  fsync: always\n")
        try await Self.post(parts[3], to: server)
        #expect(try await server.terminate() == 0, "\(server.stderr)")
        let flushed = try await SluiceBinary.run(["replay", "/dev/null", "--data-dir", "\(dir)/data"] + Self.windowFlags)
        #expect(flushed.status == 0, "\(flushed.stderr)")

        let stored = try await Self.storedWindows(dir)
        #expect(stored.values.allSatisfy { $0.stored == 1 }, "stored twice: \(stored.filter { $0.value.stored > 1 }.keys.sorted().prefix(3))")
        // Windows that had closed before the first stop are whole; later ones hold at most
        // what was sent (the part of open windows after the checkpoint died with step 2).
        let firstWatermark = parts[0].compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["timestamp"] as? Double }
            .map { Int64(($0 * 1_000_000).rounded()) }.max()! - 5_000_000
        for (key, e) in oracle.windows {
            let expected = Self.expectedCount(key, e)
            if key.start + key.length <= firstWatermark {
                #expect(stored[key]?.count == expected, "closed before the checkpoint: \(key)")
            } else if let got = stored[key]?.count {
                #expect(got <= expected, "\(key): \(got) > \(expected)")
            }
        }
        #expect(Set(stored.keys).isSubset(of: Set(oracle.windows.keys)))
        // fsync: always and a 202 for every request: every raw record survived kill -9.
        var raw = 0
        for type in ["metric", "cache", "performance", "visit", "token_usage"] { raw += try await SourcesTests.query(dir, type: type).count }
        #expect(raw == oracle.records)
    }
}
