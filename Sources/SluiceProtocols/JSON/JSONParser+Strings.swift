/// Strings: checked byte by byte, since a key with a stray byte must be refused rather than
/// silently miss its field, and nothing that is not valid UTF-8 may reach a label.
extension JSONParser {
    /// The string whose opening quote is at the parser's position, unescaped.
    mutating func string() throws(ProtocolError) -> String {
        index += 1
        let start = index
        // The common case: no escapes, all ASCII; the bytes are the string.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if b < 0x20 || b >= 0x80 || b == UInt8(ascii: "\\") { break }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case 0x80...:
                try utf8Sequence(into: &out)
            case ..<0x20:
                throw error("control characters must be escaped in strings")
            default:
                out.append(b)
                index += 1
            }
        }
        throw error("unterminated string", at: start - 1)
    }

    /// Unescapes the escape whose backslash is at the parser's position.
    private mutating func escape(into out: inout [UInt8]) throws(ProtocolError) {
        guard index + 1 < bytes.count else { throw error("the body ends inside a string") }
        let simple: UInt8? = switch bytes[index + 1] {
        case UInt8(ascii: "\""): 0x22
        case UInt8(ascii: "\\"): 0x5C
        case UInt8(ascii: "/"): 0x2F
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
        if let simple {
            out.append(simple)
            index += 2
            return
        }
        guard bytes[index + 1] == UInt8(ascii: "u") else { throw error("invalid escape in a string") }
        var scalar = try hex4(at: index + 2)
        index += 6
        if (0xD800..<0xDC00).contains(scalar) {
            // A high surrogate must be followed by an escaped low one.
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw error("a \\u escape is an unpaired surrogate")
            }
            let low = try hex4(at: index + 2)
            guard (0xDC00..<0xE000).contains(low) else { throw error("a \\u escape is an unpaired surrogate") }
            index += 6
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(scalar) {
            throw error("a \\u escape is an unpaired surrogate")
        }
        // Valid by construction: not a surrogate, at most 0x10FFFF.
        out.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
    }

    private func hex4(at position: Int) throws(ProtocolError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("the body ends inside a \\u escape", at: position - 1) }
        var value: UInt32 = 0
        for i in position..<position + 4 {
            let b = bytes[i]
            let digit: UInt8 = switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): b - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): b - 0x57
            case UInt8(ascii: "A")...UInt8(ascii: "F"): b - 0x37
            default: throw error("a \\u escape needs four hex digits", at: position - 1)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Copies one well-formed multi-byte UTF-8 sequence (Unicode table 3-7): no overlong
    /// forms, no surrogates, nothing above U+10FFFF.
    private mutating func utf8Sequence(into out: inout [UInt8]) throws(ProtocolError) {
        let lead = bytes[index]
        let (length, low, high): (Int, UInt8, UInt8) = switch lead {
        case 0xC2...0xDF: (2, 0x80, 0xBF)
        case 0xE0: (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
        case 0xED: (3, 0x80, 0x9F)
        case 0xF0: (4, 0x90, 0xBF)
        case 0xF1...0xF3: (4, 0x80, 0xBF)
        case 0xF4: (4, 0x80, 0x8F)
        default: throw error("a string is not valid UTF-8")
        }
        guard bytes.count - index >= length else { throw error("a string is not valid UTF-8") }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { throw error("a string is not valid UTF-8") }
        for i in 2..<length where bytes[index + i] & 0xC0 != 0x80 {
            throw error("a string is not valid UTF-8")
        }
        out.append(contentsOf: bytes[index..<index + length])
        index += length
    }
}
