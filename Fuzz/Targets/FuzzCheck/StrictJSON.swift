/// An RFC 8259 validator written from the grammar, independent of Sluice's scanner: the oracle
/// the JSON targets hold the decoders to. It accepts exactly one JSON text (whitespace around
/// it allowed) and nothing else: no trailing commas, no leading zeros, no `NaN`, no raw control
/// characters, no unknown escapes, only well-formed UTF-8. An escaped lone surrogate (`"\ud800"`)
/// is valid JSON by the grammar; Sluice refuses it, which is stricter and never a violation.
public enum StrictJSON {
    /// What a valid text is, as far as the targets need to know.
    public enum Shape: Equatable {
        case object(keys: Int)
        case array(elements: Int)
        case scalar
    }

    /// The shape of `bytes` as one JSON text and how deeply it nests, or `nil` when it is not
    /// valid JSON.
    public static func validate(_ bytes: UnsafeBufferPointer<UInt8>) -> (shape: Shape, depth: Int)? {
        var p = Parser(bytes: bytes)
        p.whitespace()
        guard let shape = p.value(depth: 1) else { return nil }
        p.whitespace()
        guard p.i == bytes.count else { return nil }
        return (shape, p.maxDepth)
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0
        var maxDepth = 0

        var current: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func whitespace() {
            while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
        }

        mutating func take(_ b: UInt8) -> Bool {
            guard current == b else { return false }
            i += 1
            return true
        }

        mutating func value(depth: Int) -> Shape? {
            maxDepth = max(maxDepth, depth)
            guard let b = current else { return nil }
            switch b {
            case UInt8(ascii: "{"):
                i += 1
                whitespace()
                if take(UInt8(ascii: "}")) { return .object(keys: 0) }
                var keys = 0
                while true {
                    whitespace()
                    guard string() else { return nil }
                    whitespace()
                    guard take(UInt8(ascii: ":")) else { return nil }
                    whitespace()
                    guard value(depth: depth + 1) != nil else { return nil }
                    keys += 1
                    whitespace()
                    if take(UInt8(ascii: "}")) { return .object(keys: keys) }
                    guard take(UInt8(ascii: ",")) else { return nil }
                }
            case UInt8(ascii: "["):
                i += 1
                whitespace()
                if take(UInt8(ascii: "]")) { return .array(elements: 0) }
                var elements = 0
                while true {
                    whitespace()
                    guard value(depth: depth + 1) != nil else { return nil }
                    elements += 1
                    whitespace()
                    if take(UInt8(ascii: "]")) { return .array(elements: elements) }
                    guard take(UInt8(ascii: ",")) else { return nil }
                }
            case UInt8(ascii: "\""):
                return string() ? .scalar : nil
            case UInt8(ascii: "t"): return word("true") ? .scalar : nil
            case UInt8(ascii: "f"): return word("false") ? .scalar : nil
            case UInt8(ascii: "n"): return word("null") ? .scalar : nil
            default:
                return number() ? .scalar : nil
            }
        }

        mutating func word(_ w: String) -> Bool {
            for c in w.utf8 { guard take(c) else { return false } }
            return true
        }

        static func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

        mutating func digits() -> Bool {
            guard Self.isDigit(current) else { return false }
            while Self.isDigit(current) { i += 1 }
            return true
        }

        mutating func number() -> Bool {
            _ = take(UInt8(ascii: "-"))
            if take(UInt8(ascii: "0")) {
                // A leading zero stands alone.
            } else if !digits() {
                return false
            }
            if take(UInt8(ascii: ".")) { guard digits() else { return false } }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
                guard digits() else { return false }
            }
            return true
        }

        /// A string at `i`; its raw bytes must be UTF-8 as the standard library judges it.
        mutating func string() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            let start = i
            while let b = current {
                switch b {
                case UInt8(ascii: "\""):
                    let raw = UnsafeBufferPointer(rebasing: bytes[start..<i])
                    i += 1
                    return String(validating: raw, as: UTF8.self) != nil
                case UInt8(ascii: "\\"):
                    i += 1
                    guard let e = current else { return false }
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        break
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let h = current, (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66)
                            else { return false }
                            i += 1
                        }
                    default:
                        return false
                    }
                case 0x00..<0x20:
                    return false
                default:
                    i += 1
                }
            }
            return false
        }
    }
}
