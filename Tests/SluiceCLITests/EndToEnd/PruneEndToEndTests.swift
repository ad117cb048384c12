import Foundation
import Testing
import SluiceModel
import SluiceTesting

/// `sluice prune` through the real binary: the dry run reports what the prune removes, a mass
/// delete needs confirming, and bad times and policies are refused with a message.
@Suite("Prune end to end", .serialized, .timeLimit(.minutes(3)))
struct PruneEndToEndTests {
    static let day: Int64 = 86_400

    /// 40 days of metrics and token usage for two tenants, oldest first; token usage (random
    /// request ids) is most of the bytes. Returns the text and the last timestamp (Unix seconds).
    static func input(records: Int, from base: Int64 = 1_780_000_000) -> (text: String, last: Int64) {
        var random = SeededRandom(seed: 11)
        let step = Double(40 * day) / Double(records)
        var text = ""
        var last = base
        for i in 0..<records {
            let time = base + Int64(Double(i) * step)
            let tenant = i % 2 == 0 ? "site-a" : "site-b"
            if (i / 2) % 2 == 0 {
                text += #"{"timestamp":\#(time),"tenant_id":"\#(tenant)","metric_name":"cpu","value":\#(Double(random.next() % 100_000) / 100)}"# + "\n"
            } else {
                text += #"{"type":"token_usage","timestamp":\#(time),"tenant_id":"\#(tenant)","model":"m","prompt_tokens":\#(random.next() % 4_000),"completion_tokens":\#(random.next() % 1_000),"request_id":"r\#(random.next())-\#(random.next())"}"# + "\n"
            }
            last = time
        }
        return (text, last)
    }

    /// A data directory written by `sluice replay`, in 64KiB segments.
    static func store(_ input: String, in dir: String) async throws -> String {
        _ = TestFiles.write("\(dir)/input.ndjson", input)
        _ = TestFiles.write("\(dir)/store.yml", """
            pipeline: {windows: [1d]}
            anomaly: {enabled: false}
            store: {segment_bytes: 64KiB, flush_records: 2048, compaction_level: 1}
            """)
        let replay = try await SluiceBinary.run(["replay", "\(dir)/input.ndjson", "--data-dir", "\(dir)/data", "--config", "\(dir)/store.yml"])
        #expect(replay.status == 0, "\(replay.stderr)")
        return "\(dir)/data"
    }

    /// The records in the store, as `sluice stats` counts them ("… blocks, N records, …").
    static func storedRecords(_ data: String) async throws -> Int {
        let stats = try await SluiceBinary.run(["stats", "--data-dir", data])
        #expect(stats.status == 0, "\(stats.stderr)")
        let total = stats.stdout.split(separator: "\n").last?.split(separator: ", ").first { $0.hasSuffix(" records") }
        return total.flatMap { Int($0.dropLast(" records".count)) } ?? -1
    }

    /// The report's lines with a dry run's wording turned into a real run's.
    static func asApplied(_ report: String) -> String {
        report.replacingOccurrences(of: "would remove", with: "removed").replacingOccurrences(of: "would delete", with: "deleted")
            .replacingOccurrences(of: "would rewrite", with: "rewrote").replacingOccurrences(of: "would be removed", with: "removed")
    }

    @Test("with both max_age and max_bytes at work, the dry run reports exactly what the prune then removes")
    func dryRunMatchesPrune() async throws {
        let dir = TestFiles.temporaryDirectory()
        let (input, last) = Self.input(records: 120_000)
        let data = try await Self.store(input, in: dir)
        _ = TestFiles.write("\(dir)/retention.yml", """
            store: {segment_bytes: 64KiB}
            retention:
              max_age: {metric: 30d, window: 30d}
              tenants:
                site-b: {max_age: {metric: 10d}}
              max_bytes: 1MiB
            """)
        let before = try await Self.storedRecords(data)
        let arguments = ["prune", "--data-dir", data, "--config", "\(dir)/retention.yml", "--now", "\(last + 3_600)", "--confirm"]

        let dry = try await SluiceBinary.run(arguments + ["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try await Self.storedRecords(data) == before, "a dry run removes nothing")
        let real = try await SluiceBinary.run(arguments)
        #expect(real.status == 0, "\(real.stderr)")

        // Both reasons are at work, and the cap reached token usage: the case that double-counted.
        let lines = real.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains(" metric records of tenant site-b ") && $0.hasSuffix(": max_age") })
        #expect(lines.contains { $0.contains(" metric records of tenant site-a ") && $0.hasSuffix(": max_bytes") })
        #expect(lines.contains { $0.contains(" token_usage records of tenant site-a ") && $0.hasSuffix(": max_bytes") })
        #expect(Self.asApplied(dry.stdout) == real.stdout)
        // And the report is what happened.
        let total = real.stdout.split(separator: "\n").last.flatMap { Int($0.prefix { $0 != " " }) }
        #expect(await total == before - (try Self.storedRecords(data)))
    }

    @Test("a prune that would remove more than half the store is refused until confirmed, and removes nothing")
    func massDeleteNeedsConfirming() async throws {
        let dir = TestFiles.temporaryDirectory()
        let (input, last) = Self.input(records: 4_000)
        let data = try await Self.store(input, in: dir)
        let before = try await Self.storedRecords(data)
        // 1000 days later everything has expired, token usage (800 days) too.
        let now = "\(last + 1_000 * Self.day)"

        let refused = try await SluiceBinary.run(["prune", "--data-dir", data, "--now", now])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("prune refused: the prune would remove"))
        #expect(refused.stderr.contains("--confirm") && refused.stderr.contains("retention.allow_mass_delete: true"))
        #expect(try await Self.storedRecords(data) == before)

        let dry = try await SluiceBinary.run(["prune", "--data-dir", data, "--now", now, "--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("a real prune needs confirmation"))

        let confirmed = try await SluiceBinary.run(["prune", "--data-dir", data, "--now", now, "--confirm"])
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        let removed = confirmed.stdout.split(separator: "\n").last.flatMap { Int($0.prefix { $0 != " " }) } ?? 0
        #expect(removed * 2 > before)
        #expect(try await Self.storedRecords(data) == before - removed)
    }

    @Test("retention.allow_mass_delete: true lets a prune remove most of the store unconfirmed")
    func massDeleteAllowedByConfiguration() async throws {
        let dir = TestFiles.temporaryDirectory()
        let (input, last) = Self.input(records: 4_000)
        let data = try await Self.store(input, in: dir)
        _ = TestFiles.write("\(dir)/allow.yml", "retention: {allow_mass_delete: true}\n")
        let pruned = try await SluiceBinary.run(["prune", "--data-dir", data, "--config", "\(dir)/allow.yml", "--now", "\(last + 1_000 * Self.day)"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(!pruned.stdout.contains("confirmation"))
        #expect(try await Self.storedRecords(data) == 0)
    }

    @Test("sluice run's periodic retention skips a mass delete and says why")
    func runSkipsMassDelete() async throws {
        let dir = TestFiles.temporaryDirectory()
        // 2020: everything has expired, whenever the test runs.
        let data = try await Self.store(Self.input(records: 4_000, from: 1_580_000_000).text, in: dir)
        let before = try await Self.storedRecords(data)
        _ = TestFiles.write("\(dir)/run.yml", "retention: {interval: 1s}\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        process.arguments = ["run", "--data-dir", data, "--config", "\(dir)/run.yml"]
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        // stderr as it comes; it ends when the process does.
        let (chunks, more) = AsyncStream<String>.makeStream()
        errors.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { more.finish() } else { more.yield(String(decoding: data, as: UTF8.self)) }
        }
        try process.spawn()
        var stderr = ""
        var said = false
        for await chunk in chunks {
            stderr += chunk
            said = stderr.contains("retention: prune refused: the prune would remove")
            if said { break }
        }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        errors.fileHandleForReading.readabilityHandler = nil
        #expect(said, "\(stderr)")
        #expect(stderr.contains("retention.allow_mass_delete: true"))
        #expect(process.terminationStatus == 0)
        #expect(try await Self.storedRecords(data) == before)
    }

    @Test("--now out of range or malformed is refused with a message, never a crash", arguments: [
        ("1e15", "out of range"), ("-1", "out of range"), ("soon", "expected an RFC 3339 time"), ("9999-12-31T23:59:59-01:00", "out of range"),
    ])
    func nowOutOfRange(now: String, message: String) async throws {
        let dir = TestFiles.temporaryDirectory()
        let data = try await Self.store(Self.input(records: 10).text, in: dir)
        let result = try await SluiceBinary.run(["prune", "--data-dir", data, "--now=\(now)"])
        #expect(result.status == 64, "a usage error, not a trap: \(result.stderr)")
        #expect(result.stderr.contains("--now \(now)"))
        #expect(result.stderr.contains(message))
        #expect(try await Self.storedRecords(data) > 0)
    }

    @Test("a retention policy that would do harm is refused, naming the key", arguments: [
        ("retention: {interval: 1us}\n", "retention.interval"),
        ("retention: {interval: 36526d}\n", "retention.interval"),
        ("retention: {max_bytes: 1}\n", "retention.max_bytes"),
        ("retention: {max_bytes: 1023KiB}\n", "retention.max_bytes"),
        ("retention: {max_age: {metric: 0s}}\n", "retention.max_age.metric"),
        ("retention: {max_age: {token_usage: 36526d}}\n", "retention.max_age.token_usage"),
        ("retention: {tenants: {site-a: {max_age: {visit: 0d}}}}\n", "retention.tenants.site-a.max_age.visit"),
        ("retention: {allow_mass_delete: maybe}\n", "retention.allow_mass_delete"),
    ])
    func harmfulPolicy(yaml: String, key: String) async throws {
        let dir = TestFiles.temporaryDirectory()
        let data = try await Self.store(Self.input(records: 10).text, in: dir)
        _ = TestFiles.write("\(dir)/bad.yml", yaml)
        let result = try await SluiceBinary.run(["prune", "--data-dir", data, "--config", "\(dir)/bad.yml"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(key))
        #expect(try await Self.storedRecords(data) > 0)
    }

    @Test("the least policy the limits allow is accepted")
    func smallestPolicy() async throws {
        let dir = TestFiles.temporaryDirectory()
        let data = try await Self.store(Self.input(records: 10).text, in: dir)
        _ = TestFiles.write("\(dir)/least.yml", "retention: {interval: 1s, max_bytes: 1MiB, max_age: {metric: 1us, window: 36525d}}\n")
        let result = try await SluiceBinary.run(["prune", "--data-dir", data, "--config", "\(dir)/least.yml", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
