import Foundation
import Testing
import SluiceTesting

/// What reaches `sluice run` on stdin as a user's file would: a byte order mark, a corrupted
/// key, an escaped type.
@Suite("Decoder hardening, end to end")
struct DecoderHardeningTests {
    let line = #"{"metric_name":"m","value":1,"timestamp":"2026-11-24T10:00:00Z"}"#

    @Test("a byte order mark before line 1 is skipped: the line counts and nothing is reported")
    func byteOrderMark() async throws {
        let input = Data([0xEF, 0xBB, 0xBF] + Array("\(line)\n\(line)\n".utf8))
        let result = try await SluiceBinary.run(["run"], stdin: input)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.contains(#""type":"summary","records":2,"errors":0"#))
    }

    @Test("a byte order mark after line 1 is still an error on its line")
    func byteOrderMarkLater() async throws {
        let input = Data(Array("\(line)\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("\(line)\n".utf8))
        let result = try await SluiceBinary.run(["run"], stdin: input)
        #expect(result.status == 0)
        #expect(result.stderr == "line 2: invalid JSON at column 1: expected '{', found byte 0xef\n")
        #expect(result.stdout.contains(#""type":"summary","records":1,"errors":1"#))
    }

    @Test("a key with a raw invalid byte is reported with its line and reason, not filed platform-wide")
    func corruptedTenantKey() async throws {
        let corrupted = Array(#"{"tenant"#.utf8) + [0x87] + Array(#"id":"acme","metric_name":"m","value":5,"timestamp":"2026-11-24T10:00:01Z"}"#.utf8)
        let input = Data(Array("\(line)\n".utf8) + corrupted + Array("\n\(line)\n".utf8))
        let result = try await SluiceBinary.run(["run"], stdin: input)
        #expect(result.status == 0)
        #expect(result.stderr == "line 2: invalid UTF-8 at column 9: byte 0x87 does not start a character\n")
        #expect(result.stdout.contains(#""type":"summary","records":2,"errors":1"#))
        #expect(result.stdout.contains(#""errors_by_reason":{"invalid_utf8":1}"#))
        // The refused record reaches no aggregate, for its tenant or platform-wide.
        #expect(result.stdout.contains(#""count":2,"#))
        #expect(!result.stdout.contains(#""max":5"#))
        #expect(!result.stdout.contains("acme"))
    }

    @Test("a token_usage record whose type is written with an escape counts as token usage")
    func escapedType() async throws {
        let usage = #"{"type":"\u0074oken_usage","tenant_id":"acme","model":"m","prompt_tokens":10,"completion_tokens":5,"request_id":"r1","timestamp":"2026-11-24T10:00:00Z"}"#
        let result = try await SluiceBinary.run(["run"], stdin: Data("\(usage)\n".utf8))
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.contains(#""records":1,"errors":0"#))
        #expect(result.stdout.contains(#""records_by_type":{"token_usage":1}"#))
    }
}
