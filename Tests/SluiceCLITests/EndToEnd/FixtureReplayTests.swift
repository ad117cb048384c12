import Foundation
import Testing
import SluiceTesting

/// Every `Fixtures/<case>/input.ndjson` replays to its `expected.ndjson` (and `expected.stderr`),
/// byte for byte, through the real binary; `run` on stdin writes the same bytes.
@Suite("Fixture replays")
struct FixtureReplayTests {
    static let cases = FixtureLocator.cases()

    func arguments(_ name: String) -> [String] {
        let argsFile = FixtureLocator.fixtures() + "/\(name)/args"
        guard let text = TestFiles.readString(argsFile) else { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    @Test("fixtures exist", .tags(.fixtures))
    func fixturesExist() {
        #expect(Self.cases.contains("demo"))
        #expect(Self.cases.count >= 2)
    }

    @Test("replay matches the golden output", .tags(.fixtures), arguments: cases)
    func replayMatchesGolden(name: String) async throws {
        let dir = "Fixtures/\(name)"
        let result = try await SluiceBinary.run(["replay", "\(dir)/input.ndjson"] + arguments(name))
        #expect(result.status == 0, "\(result.stderr)")
        let root = FixtureLocator.fixtures() + "/\(name)"
        if let problem = Golden.mismatch(result.stdout, goldenPath: "\(root)/expected.ndjson") { Issue.record(Comment(rawValue: problem)) }
        if let problem = Golden.mismatch(result.stderr, goldenPath: "\(root)/expected.stderr") { Issue.record(Comment(rawValue: problem)) }
    }

    @Test("two replays are byte-identical, and run on stdin writes the same bytes", .tags(.fixtures), arguments: cases)
    func deterministic(name: String) async throws {
        let dir = "Fixtures/\(name)"
        let first = try await SluiceBinary.run(["replay", "\(dir)/input.ndjson"] + arguments(name))
        let second = try await SluiceBinary.run(["replay", "\(dir)/input.ndjson"] + arguments(name))
        #expect(first.stdout == second.stdout)
        let piped = try await SluiceBinary.run(["run"] + arguments(name), stdinFile: FixtureLocator.fixtures() + "/\(name)/input.ndjson")
        #expect(piped.status == 0)
        #expect(piped.stdout == first.stdout)
        // Same errors, without the file name stdin does not have.
        #expect(piped.stderr == first.stderr.replacingOccurrences(of: "\(dir)/input.ndjson: ", with: ""))
    }
}

extension Tag {
    @Tag static var fixtures: Self
}
