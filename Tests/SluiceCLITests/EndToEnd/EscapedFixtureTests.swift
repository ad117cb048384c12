import Foundation
import Testing
import SluiceModel
import SluiceTesting

/// JSON lets any character of a key or a string value be written as `\uXXXX`; clients that
/// escape more than they must are common. Every fixture, re-encoded that way, must give the
/// same output as the plain one.
@Suite("Escaped fixtures")
struct EscapedFixtureTests {
    /// Rewrites printable ASCII characters inside strings (keys and values) as `\uXXXX` with
    /// probability 1/3, in random hex case; existing escapes, other bytes and everything
    /// outside strings are copied as they are, so invalid lines stay invalid the same way.
    static func escape(_ line: [UInt8], random: inout some RandomNumberGenerator) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(line.count * 2)
        var inString = false
        var i = 0
        while i < line.count {
            let byte = line[i]
            if !inString {
                if byte == UInt8(ascii: "\"") { inString = true }
                out.append(byte)
                i += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = false
                out.append(byte)
                i += 1
            case UInt8(ascii: "\\"):
                // An escape as written: a backslash and the character after it (the hex digits
                // of a \u follow as ordinary characters and are left alone below).
                out.append(byte)
                if i + 1 < line.count { out.append(line[i + 1]) }
                if i + 1 < line.count, line[i + 1] == UInt8(ascii: "u") {
                    out.append(contentsOf: line[(i + 2)..<min(i + 6, line.count)])
                    i += 6
                } else {
                    i += 2
                }
            case 0x20...0x7E where Int.random(in: 0..<3, using: &random) == 0:
                out.append(contentsOf: Array(String(format: Bool.random(using: &random) ? "\\u%04X" : "\\u%04x", Int(byte)).utf8))
                i += 1
            default:
                out.append(byte)
                i += 1
            }
        }
        return out
    }

    func arguments(_ name: String) -> [String] {
        guard let text = TestFiles.readString(FixtureLocator.fixtures() + "/\(name)/args") else { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    @Test("every fixture with random \\u escapes in its keys and values replays to the same bytes", arguments: FixtureLocator.cases())
    func escapedReplay(name: String) async throws {
        let input = FixtureLocator.fixtures() + "/\(name)/input.ndjson"
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: input)))
        var random = SeededRandom(seed: 2026)
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let escaped = lines.map { Self.escape(Array($0), random: &random) }.joined(separator: [UInt8(ascii: "\n")])
        #expect(Array(escaped) != bytes, "the re-encoding changed something")
        let path = TestFiles.temporaryDirectory() + "/input.ndjson"
        _ = TestFiles.write(path, Array(escaped))
        let plain = try await SluiceBinary.run(["replay", input] + arguments(name))
        let rewritten = try await SluiceBinary.run(["replay", path] + arguments(name))
        #expect(rewritten.status == plain.status)
        #expect(rewritten.stdout == plain.stdout)
        // The same lines fail (their columns move with the longer text).
        func failures(_ stderr: String) -> [String] {
            stderr.split(separator: "\n").map { line in
                String(line.split(separator: ":").dropFirst().prefix(1).joined()).trimmingCharacters(in: .whitespaces)
            }
        }
        #expect(failures(rewritten.stderr) == failures(plain.stderr))
    }
}
