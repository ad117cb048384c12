#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Strings: every one is checked as it is scanned, whether its value is read, skipped or is a
/// key. A key with a stray byte must be refused rather than miss its field (a `tenant_id` that
/// silently fails to match files the record platform-wide), and nothing that is not JSON should
/// reach the store because it sat in a field this version ignores.
extension JSONScanner {
    /// A string token: the bytes between the quotes, and whether any escape needs decoding.
    struct StringToken {
        var start: Int
        var end: Int
        var hasEscapes: Bool
    }

    /// Scans a string whose opening quote is at `index`, refusing raw control characters,
    /// unknown escapes, unpaired surrogates and bytes that are not well-formed UTF-8.
    mutating func scanString() throws(DecodeError) -> StringToken {
        index += 1
        let start = index
        var hasEscapes = false
        while true {
            index = skipPlainWords(from: index)
            guard index < bytes.count else { break }
            let b = bytes[index]
            // A plain byte here is one of the last few, too few to fill a word.
            if b >= 0x20, b < 0x80, b != UInt8(ascii: "\""), b != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                let token = StringToken(start: start, end: index, hasEscapes: hasEscapes)
                index += 1
                return token
            case UInt8(ascii: "\\"):
                hasEscapes = true
                if validatesStrings { try scanEscape() } else { index += 2 }
            case 0x80...:
                if validatesStrings { try scanUTF8Sequence() } else { index += 1 }
            default:
                throw syntaxError("control characters must be escaped in strings")
            }
        }
        throw DecodeError(.invalidJSON, "invalid JSON: unterminated string")
    }

    /// Steps over plain bytes (printable ASCII other than a quote or a backslash) eight at a
    /// time, and returns the position of the first byte that needs a look. Per byte of a word,
    /// each test sets the high bit when the byte is special; a borrow can also set it in a byte
    /// above a special one, never below, so the lowest flagged byte is always the first special
    /// one.
    @inline(__always)
    private func skipPlainWords(from position: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        var i = position
        while i + 8 <= bytes.count {
            let word = UInt64(littleEndian: UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self))
            let control = word &- ones &* 0x20
            let quote = (word ^ ones &* 0x22) &- ones
            let backslash = (word ^ ones &* 0x5C) &- ones
            let flagged = (control | quote | backslash | word) & (ones &* 0x80)
            guard flagged == 0 else { return i + flagged.trailingZeroBitCount / 8 }
            i += 8
        }
        return i
    }

    /// Checks the escape whose backslash is at `index` and steps over it.
    private mutating func scanEscape() throws(DecodeError) {
        guard index + 1 < bytes.count else { throw DecodeError(.invalidJSON, "invalid JSON: unterminated string") }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            let unit = try hex4(escapeAt: index)
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate stands for a character only with the low surrogate after it.
                let next = index + 6
                guard next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\\"), bytes[next + 1] == UInt8(ascii: "u"),
                      (0xDC00...0xDFFF).contains(try hex4(escapeAt: next))
                else { throw unpairedSurrogate(unit) }
                index += 12
            case 0xDC00...0xDFFF:
                throw unpairedSurrogate(unit)
            default:
                index += 6
            }
        case let e:
            throw DecodeError(.invalidJSON, "invalid JSON at column \(index + 1): unknown escape \\\(Self.shown(e)) in a string")
        }
    }

    /// The four hex digits of the `\u` escape whose backslash is at `backslash`.
    private func hex4(escapeAt backslash: Int) throws(DecodeError) -> UInt32 {
        var value: UInt32 = 0
        for i in backslash + 2..<backslash + 6 {
            guard i < bytes.count, let digit = Self.hexDigit(bytes[i]) else {
                throw DecodeError(.invalidJSON, "invalid JSON at column \(backslash + 1): \\u needs four hex digits")
            }
            value = value << 4 | digit
        }
        return value
    }

    private static func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - 0x30)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - 0x57)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - 0x37)
        default: nil
        }
    }

    private func unpairedSurrogate(_ unit: UInt32) -> DecodeError {
        DecodeError(.invalidUTF8, "invalid string at column \(index + 1): unpaired surrogate \\u\(String(unit, radix: 16)) stands for no character")
    }

    /// Checks the UTF-8 sequence whose lead byte (0x80 or above) is at `index` and steps over
    /// it. The ranges are Unicode's well-formed sequences (table 3-7), which leave out overlong
    /// forms, the surrogates U+D800–U+DFFF and everything above U+10FFFF.
    private mutating func scanUTF8Sequence() throws(DecodeError) {
        let lead = bytes[index]
        let length: Int
        // The range the second byte must fall in; later bytes are any continuation byte.
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        case 0x80...0xBF: throw invalidUTF8("byte 0x\(Self.hex(lead)) does not start a character")
        case 0xC0, 0xC1: throw invalidUTF8("overlong encoding (lead byte 0x\(Self.hex(lead)))")
        default: throw invalidUTF8("byte 0x\(Self.hex(lead)) never appears in UTF-8")
        }
        for offset in 1..<length {
            let at = index + offset
            guard at < bytes.count, bytes[at] & 0xC0 == 0x80 else {
                throw invalidUTF8("truncated sequence (lead byte 0x\(Self.hex(lead)) needs \(length - 1) continuation bytes)")
            }
            guard offset > 1 || (low...high).contains(bytes[at]) else {
                switch lead {
                case 0xED: throw invalidUTF8("encoded surrogate (U+D800–U+DFFF are not characters)")
                case 0xF4: throw invalidUTF8("code point above U+10FFFF")
                default: throw invalidUTF8("overlong encoding (lead byte 0x\(Self.hex(lead)))")
                }
            }
        }
        index += length
    }

    private func invalidUTF8(_ what: String) -> DecodeError {
        DecodeError(.invalidUTF8, "invalid UTF-8 at column \(index + 1): \(what)")
    }

    private static func hex(_ b: UInt8) -> String { String(b, radix: 16) }

    private static func shown(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(Character(Unicode.Scalar(b))) : "(byte 0x\(hex(b)))"
    }

    /// Whether a string token's text is exactly `literal`. Escaped text is compared after
    /// unescaping, byte for byte as JSON compares names (not by Unicode canonical equivalence,
    /// as `String`'s `==` would).
    @inline(__always)
    func token(_ token: StringToken, equals literal: StaticString) -> Bool {
        if token.hasEscapes { return Self.text(string(token), equals: literal) }
        let count = token.end - token.start
        guard count == literal.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress! + token.start, literal.utf8Start, count) == 0
    }

    /// Whether `text` holds exactly the bytes of `literal`.
    static func text(_ text: String, equals literal: StaticString) -> Bool {
        literal.withUTF8Buffer { text.utf8.elementsEqual($0) }
    }

    /// The text of a string token, taken from `intern` when its bytes were seen before.
    func string(_ token: StringToken, intern: inout InternTable) -> String {
        let count = token.end - token.start
        guard intern.strings.capacity > 0 else { return string(token) }
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        if count <= InternTable.ShortStrings.maximumLength {
            // Escapes stand for fewer bytes than they take: such a token is read the long way.
            guard !token.hasEscapes else { return string(token) }
            let key = InternTable.ShortStrings.key(raw)
            if let known = intern.shortStrings.lookup(key) { return known }
            let text = string(token)
            intern.shortStrings.insert(key, text)
            return text
        }
        let hash = InternTable.hash(raw)
        if let known = intern.strings.lookup(raw, hash: hash) { return known }
        let text = string(token)
        intern.strings.insert(raw, hash: hash, text)
        return text
    }

    /// The text of a string token, escapes resolved. `scanString` has checked the token, so
    /// this needs no checks of its own.
    func string(_ token: StringToken) -> String {
        assert(validatesStrings, "a token scanned without validation cannot be read")
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        guard token.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        // Every escape is longer than the UTF-8 it stands for, so the raw length is enough room.
        return String(unsafeUninitializedCapacity: raw.count) { out in
            var i = 0, n = 0
            while i < raw.count {
                let b = raw[i]
                guard b == UInt8(ascii: "\\") else { out[n] = b; n += 1; i += 1; continue }
                let escaped = raw[i + 1]
                i += 2
                switch escaped {
                case UInt8(ascii: "b"): out[n] = 0x08
                case UInt8(ascii: "f"): out[n] = 0x0C
                case UInt8(ascii: "n"): out[n] = 0x0A
                case UInt8(ascii: "r"): out[n] = 0x0D
                case UInt8(ascii: "t"): out[n] = 0x09
                case UInt8(ascii: "u"):
                    var scalar = Self.hexValue(raw, at: i)
                    i += 4
                    if (0xD800...0xDBFF).contains(scalar) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (Self.hexValue(raw, at: i + 2) - 0xDC00)
                        i += 6
                    }
                    n += Self.encode(scalar, into: out, at: n)
                    continue
                default: out[n] = escaped  // `"`, `\` and `/` stand for themselves
                }
                n += 1
            }
            return n
        }
    }

    /// Four hex digits already checked by `scanString`.
    private static func hexValue(_ raw: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt32 {
        var value: UInt32 = 0
        for b in raw[i..<i + 4] { value = value << 4 | (hexDigit(b) ?? 0) }
        return value
    }

    /// Writes the UTF-8 form of a scalar value; returns its length.
    private static func encode(_ scalar: UInt32, into out: UnsafeMutableBufferPointer<UInt8>, at n: Int) -> Int {
        switch scalar {
        case ..<0x80:
            out[n] = UInt8(scalar)
            return 1
        case ..<0x800:
            out[n] = 0xC0 | UInt8(scalar >> 6)
            out[n + 1] = 0x80 | UInt8(scalar & 0x3F)
            return 2
        case ..<0x10000:
            out[n] = 0xE0 | UInt8(scalar >> 12)
            out[n + 1] = 0x80 | UInt8(scalar >> 6 & 0x3F)
            out[n + 2] = 0x80 | UInt8(scalar & 0x3F)
            return 3
        default:
            out[n] = 0xF0 | UInt8(scalar >> 18)
            out[n + 1] = 0x80 | UInt8(scalar >> 12 & 0x3F)
            out[n + 2] = 0x80 | UInt8(scalar >> 6 & 0x3F)
            out[n + 3] = 0x80 | UInt8(scalar & 0x3F)
            return 4
        }
    }
}
