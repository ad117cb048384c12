#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cursor over one line of JSON bytes: the hand-written lexer behind `NDJSONDecoder`.
///
/// It never builds a generic JSON tree; values the decoder does not need are validated and
/// skipped, and strings become `String`s only when a field is read (`JSONScanner+Strings.swift`).
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int = 0
    /// Whether `scanString` checks UTF-8 and escapes. Only a scanner that finds the bounds of
    /// values decoded later turns it off (`JSONArraySplitter`), so each string is checked once
    /// and one bad element is refused on its own; its tokens must not be read with `string(_:)`.
    var validatesStrings = true

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static let maximumDepth = 64

    var isAtEnd: Bool { index >= bytes.count }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    @inline(__always)
    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    func syntaxError(_ what: String) -> DecodeError {
        if index >= bytes.count { return DecodeError(.invalidJSON, "invalid JSON: unexpected end of line, \(what)") }
        let found = bytes[index]
        let shown = found >= 0x20 && found < 0x7F ? "'\(Character(Unicode.Scalar(found)))'" : "byte 0x\(String(found, radix: 16))"
        return DecodeError(.invalidJSON, "invalid JSON at column \(index + 1): \(what), found \(shown)")
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: String) throws(DecodeError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw syntaxError(what) }
        index += 1
    }

    /// A number token, validated against JSON's grammar.
    struct NumberToken {
        var start: Int
        var end: Int
        var isInteger: Bool
    }

    /// Scans a number starting at `index` (a `-` or a digit).
    mutating func scanNumber() throws(DecodeError) -> NumberToken {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), first >= 0x30, first <= 0x39 else {
            if let c = peek(), c == UInt8(ascii: "I") { throw nonFinite() }
            throw syntaxError("expected a digit")
        }
        if first == 0x30 {
            index += 1
        } else {
            while let c = peek(), c >= 0x30, c <= 0x39 { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard let c = peek(), c >= 0x30, c <= 0x39 else { throw syntaxError("expected a digit after '.'") }
            while let c = peek(), c >= 0x30, c <= 0x39 { index += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { index += 1 }
            guard let c = peek(), c >= 0x30, c <= 0x39 else { throw syntaxError("expected a digit in the exponent") }
            while let c = peek(), c >= 0x30, c <= 0x39 { index += 1 }
        }
        return NumberToken(start: start, end: index, isInteger: isInteger)
    }

    func nonFinite() -> DecodeError {
        DecodeError(.nonFinite, "numbers must be finite (NaN and Infinity are not JSON)")
    }

    func numberBytes(_ token: NumberToken) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
    }

    /// Validates and skips any JSON value at `index`.
    mutating func skipValue(depth: Int = 0) throws(DecodeError) {
        skipWhitespace()
        guard let b = peek() else { throw syntaxError("expected a value") }
        switch b {
        case UInt8(ascii: "\""): _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "N"), UInt8(ascii: "I"): throw nonFinite()
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { throw DecodeError(.invalidJSON, "invalid JSON: nested deeper than \(Self.maximumDepth)") }
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { index += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let c = peek() else { throw syntaxError("expected ',' or ']'") }
                index += 1
                if c == UInt8(ascii: "]") { return }
                guard c == UInt8(ascii: ",") else { index -= 1; throw syntaxError("expected ',' or ']'") }
            }
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else { throw DecodeError(.invalidJSON, "invalid JSON: nested deeper than \(Self.maximumDepth)") }
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a field name") }
                _ = try scanString()
                try expect(UInt8(ascii: ":"), "expected ':'")
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let c = peek() else { throw syntaxError("expected ',' or '}'") }
                index += 1
                if c == UInt8(ascii: "}") { return }
                guard c == UInt8(ascii: ",") else { index -= 1; throw syntaxError("expected ',' or '}'") }
            }
        default:
            throw syntaxError("expected a value")
        }
    }

    /// Consumes `true`, `false` or `null`.
    mutating func literal(_ word: StaticString) throws(DecodeError) {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count, memcmp(bytes.baseAddress! + index, word.utf8Start, n) == 0 else {
            throw syntaxError("expected a value")
        }
        index += n
    }
}
