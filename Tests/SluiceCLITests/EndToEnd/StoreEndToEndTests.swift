import Foundation
import Testing
import SluiceModel
import SluiceTesting
@testable import SluiceCLI

/// The store through the real binary: round trips, recomputed windows, graceful shutdown and
/// kill -9.
@Suite("Store end to end", .serialized)
struct StoreEndToEndTests {
    /// The valid records of an input file, as normalised input lines.
    static func validRecords(_ path: String) -> [String] {
        let decoder = NDJSONDecoder()
        // (Split on any newline: Swift reads "\r\n" as one character.)
        return (TestFiles.readString(path) ?? "").split(whereSeparator: \.isNewline).compactMap { line in
            try? decoder.decode(String(line), ingestTime: nil).get().ndjson
        }
    }

    @Test("every valid input record comes back from query with the same values and timestamps")
    func roundTrip() async throws {
        let dir = TestFiles.temporaryDirectory()
        for fixture in ["demo", "edge-cases"] {
            let data = "\(dir)/\(fixture)"
            let replay = try await SluiceBinary.run(["replay", "Fixtures/\(fixture)/input.ndjson", "--data-dir", data])
            #expect(replay.status == 0)
            var stored: [String] = []
            for type in ["metric", "cache", "performance", "token_usage", "visit"] {
                let query = try await SluiceBinary.run(["query", "--data-dir", data, "--type", type])
                #expect(query.status == 0, "\(query.stderr)")
                stored += query.stdout.split(separator: "\n").map { String($0) + "\n" }
            }
            let expected = Self.validRecords(FixtureLocator.fixtures() + "/\(fixture)/input.ndjson")
            #expect(stored.sorted() == expected.sorted(), "\(fixture)")
            // The stored windows are the ones the replay printed.
            let windows = try await SluiceBinary.run(["query", "--data-dir", data, "--type", "window"]).stdout.split(separator: "\n").sorted()
            let printed = replay.stdout.split(separator: "\n").filter { $0.hasPrefix(#"{"type":"window""#) }.sorted()
            #expect(windows == printed)
        }
    }

    @Test("query filters by tenant, metric and time range; --aggregate recomputes the live windows")
    func filtersAndAggregate() async throws {
        let data = TestFiles.temporaryDirectory() + "/data"
        let replay = try await SluiceBinary.run(["replay", "Fixtures/demo/input.ndjson", "--data-dir", data])
        let q = try await SluiceBinary.run(["query", "--data-dir", data, "--tenant", "shop-eu", "--metric", "response_time",
                                      "--from", "2026-11-24T10:01:00Z", "--to", "2026-11-24T10:02:00Z"])
        let lines = q.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.contains(#""tenant_id":"shop-eu""#) && $0.contains("response_time") && $0.contains("2026-11-24T10:01:") })

        // The demo's late records are the only difference between live and recomputed windows:
        // compare the series the late records did not touch.
        let aggregate = try await SluiceBinary.run(["query", "--data-dir", data, "--aggregate", "1m", "--type", "performance"])
        let recomputed = Set(aggregate.stdout.split(separator: "\n").map(String.init))
        let live = Set(replay.stdout.split(separator: "\n").map(String.init).filter { $0.contains(#""metric_name":"response_time""#) })
        #expect(!recomputed.isEmpty)
        #expect(live.isSubset(of: recomputed) || live.intersection(recomputed).count >= live.count - 2)
    }

    @Test("SIGTERM drains: exit 0, every record read is stored, and the store verifies clean")
    func gracefulShutdown() async throws {
        let dir = TestFiles.temporaryDirectory()
        let input = "\(dir)/input.ndjson"
        _ = TestFiles.write(input, Workload.metricLines(count: 400_000, seed: 5))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        process.arguments = ["run", "--data-dir", "\(dir)/data"]
        process.standardInput = FileHandle(forReadingAtPath: input)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.spawn()
        try await waitForBlocks(in: "\(dir)/data")
        kill(process.processIdentifier, SIGTERM)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let summary = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last ?? ""
        let records = Int(summary.split(separator: ",").first { $0.hasPrefix(#""records":"#) }?.dropFirst(10) ?? "") ?? -1
        #expect(records > 0)
        let verify = try await SluiceBinary.run(["verify", "--data-dir", "\(dir)/data"])
        #expect(verify.status == 0, "\(verify.stdout)")
        let stored = try await SluiceBinary.run(["query", "--data-dir", "\(dir)/data", "--type", "metric"])
        #expect(stored.stdout.split(separator: "\n").count == records)
    }

    @Test("kill -9 mid-write: repair cuts the torn tail, and query returns a gap-free prefix of the input")
    func killNine() async throws {
        let dir = TestFiles.temporaryDirectory()
        let input = "\(dir)/input.ndjson"
        let workload = Workload.metricLines(count: 400_000, seed: 9)
        _ = TestFiles.write(input, workload)
        _ = TestFiles.write("\(dir)/small-blocks.yml", "store:\n  flush_records: 3000\n  fsync: never\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        process.arguments = ["run", "--data-dir", "\(dir)/data", "--config", "\(dir)/small-blocks.yml"]
        process.standardInput = FileHandle(forReadingAtPath: input)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.spawn()
        try await waitForBlocks(in: "\(dir)/data")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let repair = try await SluiceBinary.run(["verify", "--data-dir", "\(dir)/data", "--repair"])
        #expect(repair.status == 0, "\(repair.stdout)")
        let verify = try await SluiceBinary.run(["verify", "--data-dir", "\(dir)/data"])
        #expect(verify.status == 0)
        #expect(verify.stdout.contains("0 damaged segments"))

        let stored = try await SluiceBinary.run(["query", "--data-dir", "\(dir)/data", "--type", "metric"]).stdout
            .split(separator: "\n").map { String($0) + "\n" }
        #expect(stored.count > 0 && stored.count < 400_000, "killed mid-way: \(stored.count)")
        let prefix = Self.validRecords(input).prefix(stored.count)
        #expect(stored.sorted() == prefix.sorted())
    }

    /// Waits until the writer has put at least a few blocks on disk: woken by the kernel each
    /// time something under `data` changes (inotify), never by a timer.
    func waitForBlocks(in data: String) async throws {
        let written = try await offThePool { () -> Bool in
            let watcher = inotify_init1(Int32(IN_CLOEXEC))
            defer { close(watcher) }
            let parent = String(data[..<data.lastIndex(of: "/")!])
            var buffer = [UInt8](repeating: 0, count: 4_096)
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                // Watch what exists now (adding a watch twice is harmless), then look: a change
                // after the look wakes the poll below.
                for path in [parent, data, "\(data)/segments"] where FileManager.default.fileExists(atPath: path) {
                    _ = inotify_add_watch(watcher, path, UInt32(IN_CREATE | IN_MODIFY | IN_MOVED_TO))
                }
                let segments = (try? FileManager.default.contentsOfDirectory(atPath: "\(data)/segments")) ?? []
                let bytes = segments.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: "\(data)/segments/\($1)")[.size] as? Int) ?? 0) }
                if bytes > 200_000 { return true }
                var p = pollfd(fd: watcher, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1_000))) > 0 { _ = read(watcher, &buffer, buffer.count) }
            }
            return false
        }
        if !written { Issue.record("the writer wrote nothing in 60 s") }
    }
}
