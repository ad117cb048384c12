import Foundation
import Testing
import SluiceModel
import SluiceTesting

/// The tiers as a user meets them through the binary: `replay` fills them, `query` reads them
/// as data directories, `verify` checks them, a damaged newest tier file is quarantined and
/// rolled up again, and `prune` applies each tier's age.
@Suite("Tiers end to end", .serialized, .timeLimit(.minutes(10)))
struct TiersEndToEndTests {
    static let t0: Int64 = 1_795_478_400 - 3 * 86_400  // 2026-11-21T00:00:00Z

    static func input() -> String {
        var random = SeededRandom(seed: 31)
        var lines: [String] = []
        for second in stride(from: t0, to: t0 + 3 * 86_400 + 7_200, by: 20) {
            lines.append(#"{"type":"metric","timestamp":\#(second),"tenant_id":"t","metric_name":"cpu","value":\#((random.unit() * 1000).rounded() / 10)}"#)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func windows(_ dir: String) async throws -> [String] {
        let result = try await SluiceBinary.run(["query", "--data-dir", dir, "--type", "window"])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test("replay fills 1h and 1d tiers; a damaged newest tier file is quarantined by verify --repair and rolled up again")
    func fillVerifyRepair() async throws {
        let dir = TestFiles.temporaryDirectory("sluice-tiers-e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(TestFiles.write("\(dir)/input.ndjson", Self.input()))
        let replay = try await SluiceBinary.run(["replay", "--window", "1m", "--data-dir", "\(dir)/data", "\(dir)/input.ndjson"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("into the 1h tier") && replay.stderr.contains("into the 1d tier"))
        let hours = try await Self.windows("\(dir)/data/tiers/1h")
        let days = try await Self.windows("\(dir)/data/tiers/1d")
        // 3 days and 2 hours of data: 74 whole hours but the last, and 3 whole days.
        #expect(hours.count == 73)
        #expect(days.count == 3)
        #expect(days.allSatisfy { $0.contains(#""window":"86400s""#) && $0.contains(#""count":4320"#) })

        let whole = try await SluiceBinary.run(["verify", "--data-dir", "\(dir)/data"])
        #expect(whole.status == 0, "\(whole.stdout)")

        let segments = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/data/tiers/1h/segments").filter { $0.hasSuffix(".seg") }.sorted()
        let newest = "\(dir)/data/tiers/1h/segments/\(segments.last!)"
        var bytes = try #require(TestFiles.read(newest))
        bytes[bytes.count - 20] ^= 0xFF
        #expect(TestFiles.write(newest, bytes))
        let damaged = try await SluiceBinary.run(["verify", "--data-dir", "\(dir)/data"])
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains("tiers/1h/\(segments.last!): damaged"), "\(damaged.stdout)")
        let repaired = try await SluiceBinary.run(["verify", "--data-dir", "\(dir)/data", "--repair"])
        #expect(repaired.status == 0 && repaired.stdout.contains("moved to"), "\(repaired.stdout)")

        // The next run on the directory rolls the quarantined hours up again from the base.
        let again = try await SluiceBinary.run(["replay", "--window", "1m", "--data-dir", "\(dir)/data", "/dev/null"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await Self.windows("\(dir)/data/tiers/1h") == hours)
        #expect(try await Self.windows("\(dir)/data/tiers/1d") == days)
    }

    @Test("prune applies each tier's own max age and says so")
    func prune() async throws {
        let dir = TestFiles.temporaryDirectory("sluice-tiers-e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(TestFiles.write("\(dir)/input.ndjson", Self.input()))
        #expect(try await SluiceBinary.run(["replay", "--window", "1m", "--data-dir", "\(dir)/data", "\(dir)/input.ndjson"]).status == 0)
        #expect(TestFiles.write("\(dir)/sluice.yml", "retention:\n  tiers: {1h: 2d, 1d: 30d}\n  allow_mass_delete: true\n"))
        // Three days after the start the first day's hours are more than two days old.
        let result = try await SluiceBinary.run(["prune", "--data-dir", "\(dir)/data", "--config", "\(dir)/sluice.yml", "--now", "\(Self.t0 + 3 * 86_400)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("the 1h tier (max age 2d)"), "\(result.stdout)")
        let hours = try await Self.windows("\(dir)/data/tiers/1h")
        #expect(hours.count == 49)
        #expect(try await Self.windows("\(dir)/data/tiers/1d").count == 3)
    }
}
