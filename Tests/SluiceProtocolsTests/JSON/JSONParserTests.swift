import Foundation
import Testing
@testable import SluiceProtocols

@Suite("JSON parser: a value tree, exact numbers, errors at a byte")
struct JSONParserTests {
    static func parse(_ text: String) throws(ProtocolError) -> JSONValue {
        try Array(text.utf8).withUnsafeBufferPointer { buffer throws(ProtocolError) in try JSONParser.parse(buffer) }
    }

    @Test("the tree holds what Foundation's parser reads from the same document")
    func matchesFoundation() throws {
        let text = #"{"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00\n\"/"], "b": {"c": {}}, "d": [], "a2": 0}"#
        let tree = try Self.parse(text)
        let oracle = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        #expect(Self.same(tree, oracle))
        #expect(tree["a"]?.offset == 6)
    }

    private static func same(_ value: JSONValue, _ oracle: Any) -> Bool {
        switch value.kind {
        case .null: return oracle is NSNull
        case .bool(let b): return (oracle as? NSNumber)?.boolValue == b
        case .number(let n): return (oracle as? NSNumber)?.doubleValue == n.double
        case .string(let s): return oracle as? String == s
        case .array(let elements):
            guard let list = oracle as? [Any], list.count == elements.count else { return false }
            return zip(elements, list).allSatisfy { same($0, $1) }
        case .object(let members):
            guard let map = oracle as? [String: Any], map.count == members.count else { return false }
            return members.allSatisfy { m in map[m.key].map { same(m.value, $0) } ?? false }
        }
    }

    @Test("numbers round as the standard library's parser does, and 64-bit integers are exact",
          arguments: ["0.1", "1e308", "5e-324", "2.2250738585072011e-308", "9007199254740993", "-0.0", "123456789.123456789e-5", "1.7976931348623157e308"])
    func exactDoubles(literal: String) throws {
        guard case .number(let n) = try Self.parse(literal).kind else { Issue.record("not a number"); return }
        #expect(n.double.bitPattern == Double(literal)!.bitPattern)
    }

    @Test("int64 and uint64 are exact to their limits")
    func exactIntegers() throws {
        guard case .array(let values) = try Self.parse("[9223372036854775807, -9223372036854775808, 18446744073709551615, 1.0]").kind,
              case .number(let a) = values[0].kind, case .number(let b) = values[1].kind, case .number(let c) = values[2].kind,
              case .number(let d) = values[3].kind else { Issue.record("not numbers"); return }
        #expect(a.int64 == .max)
        #expect(b.int64 == .min)
        #expect(c.uint64 == .max)
        #expect(d.int64 == nil, "1.0 is not an integer literal")
    }

    @Test("malformed documents are refused at the byte Python's json module names",
          arguments: [("{\"a\": 1,}", 8), ("[1 2]", 3), ("{\"a\" 1}", 5), ("[01]", 2), ("\"abc", 0), ("[1, \"x\\u00\"]", 7), ("{} x", 3), ("tru", 0)])
    func errorOffsets(text: String, offset: Int) {
        let error = #expect(throws: ProtocolError.self) { try Self.parse(text) }
        #expect(error?.message.hasPrefix("invalid JSON at byte ") == true, "\(error?.message ?? "")")
        #expect(error?.message.hasPrefix("invalid JSON at byte \(offset):") == true, "\(error?.message ?? ""), Python says \(offset)")
    }

    @Test("strings: raw control characters, bad escapes, lone surrogates and invalid UTF-8 are refused")
    func strictStrings() {
        let bad: [[UInt8]] = [
            Array("\"a\u{01}\"".utf8), Array(#""\x""#.utf8), Array(#""\ud800""#.utf8), Array(#""\udc00x""#.utf8),
            [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
        ]
        for bytes in bad {
            #expect(throws: ProtocolError.self, "\(bytes)") { try bytes.withUnsafeBufferPointer { try JSONParser.parse($0) } }
        }
    }

    @Test("nesting deeper than the limit is refused instead of exhausting the stack")
    func depthLimit() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: ProtocolError.self) { try Self.parse(deep) }
        #expect(error?.message.contains("nested deeper than 64") == true)
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try Self.parse(ok)
    }
}
