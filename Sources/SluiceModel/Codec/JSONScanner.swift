#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cursor over one line of JSON bytes: the hand-written lexer behind `NDJSONDecoder`.
///
/// It never builds a generic JSON tree; values the decoder does not need are validated and
/// skipped, and strings become `String`s only when a field is read.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int = 0

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

    /// A string token: the bytes between the quotes, and whether any escape needs decoding.
    struct StringToken {
        var start: Int
        var end: Int
        var hasEscapes: Bool
    }

    /// Scans a string whose opening quote is at `index`.
    mutating func scanString() throws(DecodeError) -> StringToken {
        index += 1
        let start = index
        var hasEscapes = false
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let token = StringToken(start: start, end: index, hasEscapes: hasEscapes)
                index += 1
                return token
            }
            if b == UInt8(ascii: "\\") {
                hasEscapes = true
                index += 2
                continue
            }
            if b < 0x20 { throw syntaxError("control characters must be escaped in strings") }
            index += 1
        }
        throw DecodeError(.invalidJSON, "invalid JSON: unterminated string")
    }

    /// Whether a string token holds exactly `literal` (no escapes): the fast field-name match.
    @inline(__always)
    func token(_ token: StringToken, equals literal: StaticString) -> Bool {
        let count = token.end - token.start
        guard !token.hasEscapes, count == literal.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress! + token.start, literal.utf8Start, count) == 0
    }

    /// Decodes a string token into a `String`, resolving escapes and validating UTF-8.
    func string(_ token: StringToken) throws(DecodeError) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        if !token.hasEscapes {
            // ASCII is by far the common case and needs no validation pass.
            var ascii = true
            for b in raw where b >= 0x80 { ascii = false; break }
            if ascii { return String(decoding: raw, as: UTF8.self) }
            guard let s = String(validating: raw, as: UTF8.self) else {
                throw DecodeError(.invalidUTF8, "string is not valid UTF-8")
            }
            return s
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let b = raw[i]
            guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
            guard i + 1 < raw.count else { throw DecodeError(.invalidJSON, "invalid JSON: bad escape in string") }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(raw, &i)
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") else {
                        throw DecodeError(.invalidUTF8, "string has an unpaired surrogate \\u\(String(scalar, radix: 16))")
                    }
                    i += 2
                    let low = try hex4(raw, &i)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw DecodeError(.invalidUTF8, "string has an unpaired surrogate \\u\(String(scalar, radix: 16))")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw DecodeError(.invalidUTF8, "string has an unpaired surrogate \\u\(String(scalar, radix: 16))")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default:
                throw DecodeError(.invalidJSON, "invalid JSON: unknown escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw DecodeError(.invalidUTF8, "string is not valid UTF-8")
        }
        return s
    }

    private func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ i: inout Int) throws(DecodeError) -> UInt32 {
        guard i + 4 <= raw.count else { throw DecodeError(.invalidJSON, "invalid JSON: \\u needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = raw[i]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - 55)
            default: throw DecodeError(.invalidJSON, "invalid JSON: \\u needs four hex digits")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
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
