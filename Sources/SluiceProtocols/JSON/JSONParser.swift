/// Parses a whole JSON document (RFC 8259) into a `JSONValue` tree.
///
/// Strict where it matters for data that ends up stored: strings must be well-formed UTF-8
/// with valid escapes (no lone surrogates, no raw control characters), numbers must follow
/// the grammar, and nothing may follow the document. Nesting deeper than `maximumDepth` is
/// refused, so a hostile body cannot exhaust the stack. Errors name the byte offset.
public struct JSONParser {
    /// Deeper than any OTLP message needs (about 20 levels with nested attribute values).
    public static let defaultMaximumDepth = 64

    let bytes: UnsafeBufferPointer<UInt8>
    private let maximumDepth: Int
    var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    /// The document in `bytes`; a UTF-8 byte order mark before it is allowed.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int = defaultMaximumDepth) throws(ProtocolError) -> JSONValue {
        var parser = JSONParser(bytes, maximumDepth: maximumDepth)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected data after the JSON document") }
        return value
    }

    private mutating func value(depth: Int) throws(ProtocolError) -> JSONValue {
        guard index < bytes.count else { throw error("the body ends where a value was expected") }
        let start = index
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return JSONValue(kind: .object(try object(depth: depth + 1)), offset: start)
        case UInt8(ascii: "["):
            return JSONValue(kind: .array(try array(depth: depth + 1)), offset: start)
        case UInt8(ascii: "\""):
            return JSONValue(kind: .string(try string()), offset: start)
        case UInt8(ascii: "t"):
            try literal("true")
            return JSONValue(kind: .bool(true), offset: start)
        case UInt8(ascii: "f"):
            try literal("false")
            return JSONValue(kind: .bool(false), offset: start)
        case UInt8(ascii: "n"):
            try literal("null")
            return JSONValue(kind: .null, offset: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONValue(kind: .number(try number()), offset: start)
        default:
            throw error("unexpected character \(Self.describe(bytes[index])) where a value was expected")
        }
    }

    private mutating func object(depth: Int) throws(ProtocolError) -> [JSONValue.Member] {
        guard depth <= maximumDepth else { throw error("nested deeper than \(maximumDepth) levels") }
        index += 1
        var members: [JSONValue.Member] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key in an object") }
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
            index += 1
            skipWhitespace()
            members.append(JSONValue.Member(key: key, value: try value(depth: depth)))
            skipWhitespace()
            guard index < bytes.count else { throw error("the body ends inside an object") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return members
            default: throw error("expected ',' or '}' in an object, found \(Self.describe(bytes[index]))")
            }
        }
    }

    private mutating func array(depth: Int) throws(ProtocolError) -> [JSONValue] {
        guard depth <= maximumDepth else { throw error("nested deeper than \(maximumDepth) levels") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("the body ends inside an array") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return elements
            default: throw error("expected ',' or ']' in an array, found \(Self.describe(bytes[index]))")
            }
        }
    }

    private mutating func literal(_ word: String) throws(ProtocolError) {
        let expected = Array(word.utf8)
        let matches = bytes.count - index >= expected.count && expected.indices.allSatisfy { bytes[index + $0] == expected[$0] }
        guard matches else { throw error("invalid literal (expected \(word))") }
        index += expected.count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(ProtocolError) -> JSONNumber {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else { throw error("a number needs a digit after '-'") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, Self.isDigit(bytes[index]) { throw error("a number may not have leading zeros") }
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw error("a number needs digits after '.'") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw error("a number needs digits in its exponent") }
            skipDigits()
        }
        return JSONNumber(text: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    private mutating func skipDigits() {
        while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    func error(_ message: String, at offset: Int? = nil) -> ProtocolError {
        ProtocolError("invalid JSON at byte \(offset ?? index): \(message)")
    }
}
