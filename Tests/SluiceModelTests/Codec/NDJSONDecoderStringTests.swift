import Testing
@testable import SluiceModel

/// Every string in a line is checked, whether the decoder reads it, skips it, or it is a key:
/// what is not JSON is refused with a reason, and what is JSON means what JSON says it means.
@Suite("NDJSON decoder: strings and keys")
struct NDJSONDecoderStringTests {
    let decoder = NDJSONDecoder()
    static let metric = #""metric_name":"m","value":1,"timestamp":0"#

    /// A line that must be refused: `template` with `raw` spliced in where `§` stands.
    struct BadLine: Sendable, CustomTestStringConvertible {
        var name: String
        var line: [UInt8]
        var reason: DecodeError.Reason
        /// Part of the message a user reads.
        var says: String

        init(_ name: String, _ template: String, splicing raw: [UInt8] = [], _ reason: DecodeError.Reason, says: String) {
            self.name = name
            let parts = template.split(separator: "§", omittingEmptySubsequences: false)
            line = Array(parts[0].utf8) + (parts.count > 1 ? raw + Array(parts[1].utf8) : [])
            self.reason = reason
            self.says = says
        }

        var testDescription: String { name }
    }

    static let bad: [BadLine] = [
        .init("invalid UTF-8 in a value", #"{"metric_name":"a§","value":1,"timestamp":0}"#, splicing: [0xFF], .invalidUTF8, says: "byte 0xff never appears in UTF-8"),
        .init("invalid UTF-8 in a key", #"{"tenant§id":"acme",\#(metric)}"#, splicing: [0x87], .invalidUTF8, says: "byte 0x87 does not start a character"),
        .init("invalid UTF-8 in a skipped field", #"{"extra":"x§y",\#(metric)}"#, splicing: [0xC3], .invalidUTF8, says: "truncated sequence"),
        .init("invalid UTF-8 in a skipped field's key", #"{"ex§":1,\#(metric)}"#, splicing: [0xE2, 0x82], .invalidUTF8, says: "truncated sequence"),
        .init("invalid UTF-8 in a nested skipped object", #"{"extra":{"deep":[1,{"x":"§"}]},\#(metric)}"#, splicing: [0x80], .invalidUTF8, says: "does not start a character"),
        .init("invalid UTF-8 in a nested skipped key", #"{"extra":[{"§":null}],\#(metric)}"#, splicing: [0xF8], .invalidUTF8, says: "never appears in UTF-8"),
        .init("invalid UTF-8 in a field this type does not read", #"{\#(metric),"visitor_id":"§"}"#, splicing: [0xFE], .invalidUTF8, says: "never appears in UTF-8"),
        .init("invalid UTF-8 in a label value", #"{\#(metric),"labels":{"k":"§"}}"#, splicing: [0xBF], .invalidUTF8, says: "does not start a character"),
        .init("overlong C0 80", #"{"extra":"§",\#(metric)}"#, splicing: [0xC0, 0x80], .invalidUTF8, says: "overlong encoding"),
        .init("overlong C1 BF", #"{"extra":"§",\#(metric)}"#, splicing: [0xC1, 0xBF], .invalidUTF8, says: "overlong encoding"),
        .init("overlong E0 80 80", #"{"extra":"§",\#(metric)}"#, splicing: [0xE0, 0x80, 0x80], .invalidUTF8, says: "overlong encoding"),
        .init("overlong E0 9F BF", #"{"extra":"§",\#(metric)}"#, splicing: [0xE0, 0x9F, 0xBF], .invalidUTF8, says: "overlong encoding"),
        .init("overlong F0 8F BF BF", #"{"extra":"§",\#(metric)}"#, splicing: [0xF0, 0x8F, 0xBF, 0xBF], .invalidUTF8, says: "overlong encoding"),
        .init("encoded surrogate ED A0 80", #"{"extra":"§",\#(metric)}"#, splicing: [0xED, 0xA0, 0x80], .invalidUTF8, says: "encoded surrogate"),
        .init("encoded surrogate ED BF BF", #"{"metric_name":"§","value":1,"timestamp":0}"#, splicing: [0xED, 0xBF, 0xBF], .invalidUTF8, says: "encoded surrogate"),
        .init("above U+10FFFF: F4 90 80 80", #"{"extra":"§",\#(metric)}"#, splicing: [0xF4, 0x90, 0x80, 0x80], .invalidUTF8, says: "above U+10FFFF"),
        .init("lead byte F5", #"{"extra":"§",\#(metric)}"#, splicing: [0xF5, 0x80, 0x80, 0x80], .invalidUTF8, says: "never appears in UTF-8"),
        .init("truncated at the end of the string", #"{"extra":"é§",\#(metric)}"#, splicing: [0xF0, 0x9F, 0x98], .invalidUTF8, says: "truncated sequence"),
        .init("bad escape \\q", #"{"extra":"\q",\#(metric)}"#, .invalidJSON, says: #"unknown escape \q"#),
        .init("bad escape \\x in a key", #"{"a\x41":1,\#(metric)}"#, .invalidJSON, says: #"unknown escape \x"#),
        .init("backslash before a non-ASCII character", #"{"extra":"\é",\#(metric)}"#, .invalidJSON, says: "unknown escape"),
        .init("bad escape \\udx00", #"{"extra":"\udx00",\#(metric)}"#, .invalidJSON, says: "four hex digits"),
        .init("short escape \\u12", #"{"extra":"\u12",\#(metric)}"#, .invalidJSON, says: "four hex digits"),
        .init("lone high surrogate", #"{"metric_name":"\ud800","value":1,"timestamp":0}"#, .invalidUTF8, says: #"unpaired surrogate \ud800"#),
        .init("high surrogate then text", #"{"extra":"\uD800x",\#(metric)}"#, .invalidUTF8, says: "unpaired surrogate"),
        .init("high surrogate then a non-surrogate escape", #"{"extra":"\ud800\u0041",\#(metric)}"#, .invalidUTF8, says: "unpaired surrogate"),
        .init("two high surrogates", #"{"extra":"\ud800\udbff",\#(metric)}"#, .invalidUTF8, says: "unpaired surrogate"),
        .init("lone low surrogate", #"{"extra":"\udc00",\#(metric)}"#, .invalidUTF8, says: #"unpaired surrogate \udc00"#),
        .init("lone low surrogate in a key", #"{"\uDFFF":1,\#(metric)}"#, .invalidUTF8, says: "unpaired surrogate"),
        .init("raw control character in a value", #"{"metric_name":"a§","value":1,"timestamp":0}"#, splicing: [0x01], .invalidJSON, says: "control characters must be escaped"),
        .init("raw tab in a skipped field", #"{"extra":"a§b",\#(metric)}"#, splicing: [0x09], .invalidJSON, says: "control characters must be escaped"),
        .init("raw NUL in a key", #"{"k§":1,\#(metric)}"#, splicing: [0x00], .invalidJSON, says: "control characters must be escaped"),
    ]

    @Test("strings that are not JSON are refused with a reason, wherever they are", arguments: bad)
    func refused(_ bad: BadLine) {
        switch decoder.decode(bad.line, ingestTime: nil) {
        case .success(let record):
            Issue.record("accepted as \(record)")
        case .failure(let error):
            #expect(error.reason == bad.reason, "\(error.message)")
            #expect(error.message.contains(bad.says), "\(error.message)")
            #expect(error.message.contains("column"), "\(error.message)")
        }
    }

    @Test("a corrupted tenant_id key refuses the record instead of filing it platform-wide")
    func corruptedTenantKey() {
        let line = Array(#"{"tenant"#.utf8) + [0x87] + Array(#"id":"acme",\#(Self.metric)}"#.utf8)
        #expect(decoder.decode(line, ingestTime: nil).failureReason == .invalidUTF8)
    }

    @Test("a byte that needs a look is found at every offset of a long ASCII run")
    func everyOffset() throws {
        for offset in 0..<24 {
            let run = String(repeating: "x", count: offset)
            // Ends, escapes and multi-byte characters are read where they fall.
            for (inner, text) in [("", ""), (#"\n"#, "\n"), ("é", "é"), (#"\u00e9z"#, "éz")] where offset + inner.count > 0 {
                let line = #"{"metric_name":"\#(run)\#(inner)","value":1,"timestamp":0}"#
                guard case .metric(let m) = try decoder.decode(line, ingestTime: nil).get() else { Issue.record("not a metric"); continue }
                #expect(m.name == run + text, "offset \(offset)")
            }
            // Bad bytes are refused, and the column points at them.
            for bad: UInt8 in [0x00, 0x1F, 0x80, 0xFF] {
                let line = Array(#"{"extra":"\#(run)"#.utf8) + [bad] + Array(#"","metric_name":"m","value":1,"timestamp":0}"#.utf8)
                guard case .failure(let error) = decoder.decode(line, ingestTime: nil) else { Issue.record("accepted 0x\(bad) at \(offset)"); continue }
                #expect(error.message.contains("column \(11 + offset):"), "\(error.message)")
            }
        }
    }

    /// `word` with every character written as a `\u` escape.
    static func escaped(_ word: String) -> String {
        word.unicodeScalars.map { "\\u" + String(repeating: "0", count: 4 - String($0.value, radix: 16).count) + String($0.value, radix: 16) }.joined()
    }

    static let plain: [String] = [
        #"{"type":"metric",\#(metric),"tenant_id":"acme"}"#,
        #"{"type":"cache","hits":3,"misses":1,"size_kb":9,"cache":"lru","timestamp":0}"#,
        #"{"type":"performance","response_time":12.5,"route":"/x","timestamp":0}"#,
        #"{"type":"token_usage","tenant_id":"t","model":"m","prompt_tokens":10,"completion_tokens":2,"request_id":"r","timestamp":0}"#,
        #"{"type":"visit","visitor_id":"v","path":"/p","timestamp":0,"tenant_id":"site"}"#,
    ]

    @Test("a type written with escapes is the type it spells", arguments: plain)
    func escapedType(_ line: String) throws {
        let record = try decoder.decode(line, ingestTime: nil).get()
        let type = record.kind.rawValue
        let partly = line.replacing(#""type":"\#(type)""#, with: #""type":"\#(Self.escaped(String(type.prefix(1))))\#(type.dropFirst())""#)
        let fully = line.replacing(#""type":"\#(type)""#, with: #""type":"\#(Self.escaped(type))""#)
        #expect(partly != line && fully != line)
        #expect(try decoder.decode(partly, ingestTime: nil).get() == record)
        #expect(try decoder.decode(fully, ingestTime: nil).get() == record)
    }

    @Test("a key written with escapes is the field it spells", arguments: plain)
    func escapedKeys(_ line: String) throws {
        let record = try decoder.decode(line, ingestTime: nil).get()
        var escapedKeys = line
        for key in ["type", "metric_name", "value", "timestamp", "tenant_id", "hits", "misses", "size_kb", "cache",
                    "response_time", "route", "model", "prompt_tokens", "completion_tokens", "request_id", "visitor_id", "path"] {
            escapedKeys = escapedKeys.replacing(#""\#(key)":"#, with: #""\#(Self.escaped(key))":"#)
        }
        #expect(try decoder.decode(escapedKeys, ingestTime: nil).get() == record)
        #expect(try decoder.decode(#"{"tenant\u005fid":"acme",\#(Self.metric)}"#, ingestTime: nil).get().tenantID == "acme")
    }

    @Test("surrogate pairs in either case of hex decode to one character")
    func surrogatePair() throws {
        for pair in [#"\ud83d\ude00"#, #"\uD83D\uDE00"#, #"\udbff\udfff"#] {
            guard case .metric(let m) = try decoder.decode(#"{"metric_name":"\#(pair)","value":1,"timestamp":0}"#, ingestTime: nil).get() else {
                Issue.record("not a metric"); continue
            }
            #expect(m.name == (pair.hasPrefix(#"\udb"#) ? "\u{10FFFF}" : "😀"), "\(pair)")
        }
    }

    @Test("multi-byte UTF-8 in labels, at every length and boundary, is kept as it is")
    func multiByteLabels() throws {
        let labels: Labels = [
            "zone": "Zürich", "名前": "値", "emoji": "😀",
            "edges": "\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFD}\u{FFFF}\u{10000}\u{10FFFF}",
        ]
        let object = labels.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",")
        let record = try decoder.decode(#"{\#(Self.metric),"labels":{\#(object)}}"#, ingestTime: nil).get()
        guard case .metric(let m) = record else { Issue.record("not a metric"); return }
        #expect(m.labels == labels)
    }

    @Test("a value with every escape decodes to the characters they stand for")
    func everyEscape() throws {
        let line = #"{"metric_name":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00\u0000","value":1,"timestamp":0}"#
        guard case .metric(let m) = try decoder.decode(line, ingestTime: nil).get() else { Issue.record("not a metric"); return }
        #expect(m.name == "\"\\/\u{8}\u{C}\n\r\tAé€😀\u{0}")
    }
}
