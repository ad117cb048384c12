/// Reads OTLP/JSON: protobuf's JSON mapping with OTLP's exceptions (opentelemetry-proto's
/// "JSON Protobuf Encoding"): keys in lowerCamelCase (the original snake_case names are
/// accepted too, as the mapping allows), 64-bit integers as strings or numbers, `traceId` and
/// `spanId` as hex strings, enums as integers (their names are accepted too), `bytesValue`
/// as base64. Unknown keys are skipped; a known key holding the wrong kind of value fails the
/// whole message, naming its path and byte offset.
enum OTLPJSON {
    /// An object with its keys in lowerCamelCase; `null` members count as absent.
    struct Object {
        let members: [String: JSONValue]
        let path: String

        subscript(key: String) -> JSONValue? { members[key] }

        /// The member's path, for errors and for the paths of its own members.
        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    static func object(_ value: JSONValue, _ path: String) throws(ProtocolError) -> Object {
        guard case .object(let members) = value.kind else { throw mismatch(value, path, "an object") }
        var normalized: [String: JSONValue] = [:]
        normalized.reserveCapacity(members.count)
        for member in members {
            if case .null = member.value.kind { continue }
            normalized[camelCase(member.key)] = member.value
        }
        return Object(members: normalized, path: path)
    }

    /// The member `key` of `object` as an object, or `nil` when absent.
    static func object(_ object: Object, _ key: String) throws(ProtocolError) -> Object? {
        guard let value = object[key] else { return nil }
        return try self.object(value, object.path(key))
    }

    /// The elements of array member `key` (none when absent), each with its path.
    static func array(_ object: Object, _ key: String) throws(ProtocolError) -> [(value: JSONValue, path: String)] {
        guard let value = object[key] else { return [] }
        guard case .array(let elements) = value.kind else { throw mismatch(value, object.path(key), "an array") }
        let base = object.path(key)
        return elements.enumerated().map { ($0.element, "\(base)[\($0.offset)]") }
    }

    static func string(_ object: Object, _ key: String) throws(ProtocolError) -> String? {
        guard let value = object[key] else { return nil }
        guard case .string(let text) = value.kind else { throw mismatch(value, object.path(key), "a string") }
        return text
    }

    static func bool(_ object: Object, _ key: String) throws(ProtocolError) -> Bool? {
        guard let value = object[key] else { return nil }
        guard case .bool(let flag) = value.kind else { throw mismatch(value, object.path(key), "true or false") }
        return flag
    }

    /// A `fixed64`/`uint64`/`uint32` member: a non-negative integer, as a number or a string.
    static func unsigned(_ object: Object, _ key: String) throws(ProtocolError) -> UInt64? {
        guard let value = object[key] else { return nil }
        return try unsigned(value, object.path(key))
    }

    static func unsigned(_ value: JSONValue, _ path: String) throws(ProtocolError) -> UInt64 {
        let parsed: UInt64? = switch value.kind {
        case .number(let number): number.uint64
        case .string(let text): UInt64(text, radix: 10)
        default: nil
        }
        guard let parsed else { throw mismatch(value, path, "a non-negative integer (a number or a decimal string)") }
        return parsed
    }

    /// An `int64`/`sfixed64`/`sint32` member: an integer, as a number or a string.
    static func signed(_ object: Object, _ key: String) throws(ProtocolError) -> Int64? {
        guard let value = object[key] else { return nil }
        let parsed: Int64? = switch value.kind {
        case .number(let number): number.int64
        case .string(let text): Int64(text, radix: 10)
        default: nil
        }
        guard let parsed else { throw mismatch(value, object.path(key), "an integer (a number or a decimal string)") }
        return parsed
    }

    /// A `double` member: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"` or a decimal
    /// string as protobuf's JSON mapping allows.
    static func double(_ object: Object, _ key: String) throws(ProtocolError) -> Double? {
        guard let value = object[key] else { return nil }
        return try double(value, object.path(key))
    }

    static func double(_ value: JSONValue, _ path: String) throws(ProtocolError) -> Double {
        switch value.kind {
        case .number(let number):
            return number.double
        case .string("NaN"):
            return .nan
        case .string("Infinity"):
            return .infinity
        case .string("-Infinity"):
            return -.infinity
        case .string(let text):
            let parsed: JSONValue? = Array(text.utf8).withUnsafeBufferPointer { try? JSONParser.parse($0) }
            if let parsed, case .number(let number) = parsed.kind { return number.double }
            throw mismatch(value, path, "a number")
        default:
            throw mismatch(value, path, "a number")
        }
    }

    /// An enum member: its number, or its name looked up in `names`.
    static func enumeration(_ object: Object, _ key: String, names: [String: Int64]) throws(ProtocolError) -> Int64? {
        guard let value = object[key] else { return nil }
        switch value.kind {
        case .number(let number):
            if let n = number.int64 { return n }
        case .string(let name):
            if let n = names[name] { return n }
        default:
            break
        }
        throw mismatch(value, object.path(key), "an enum number or one of \(names.keys.sorted().joined(separator: ", "))")
    }

    /// `traceId`/`spanId`: hex, as OTLP/JSON requires (not base64).
    static func hex(_ object: Object, _ key: String) throws(ProtocolError) -> [UInt8] {
        guard let text = try string(object, key) else { return [] }
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { throw mismatch(object[key]!, object.path(key), "a hex string of whole bytes") }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let high = hexDigit(digits[i]), let low = hexDigit(digits[i + 1]) else {
                throw mismatch(object[key]!, object.path(key), "a hex string")
            }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    private static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - 0x57
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - 0x37
        default: nil
        }
    }

    /// `bytesValue`: standard or URL-safe base64, padding optional.
    static func base64(_ object: Object, _ key: String) throws(ProtocolError) -> [UInt8]? {
        guard let text = try string(object, key) else { return nil }
        var out: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        for b in text.utf8 {
            let sextet: UInt8
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): sextet = b - 65
            case UInt8(ascii: "a")...UInt8(ascii: "z"): sextet = b - 71
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sextet = b + 4
            case UInt8(ascii: "+"), UInt8(ascii: "-"): sextet = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): sextet = 63
            case UInt8(ascii: "="): continue
            default: throw mismatch(object[key]!, object.path(key), "base64")
            }
            accumulator = accumulator << 6 | UInt32(sextet)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }

    /// `resource_metrics` → `resourceMetrics`; keys already in lowerCamelCase are kept.
    static func camelCase(_ key: String) -> String {
        guard key.utf8.contains(UInt8(ascii: "_")) else { return key }
        var out = ""
        var upper = false
        for c in key {
            if c == "_" {
                upper = true
            } else if upper {
                out += c.uppercased()
                upper = false
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func mismatch(_ value: JSONValue, _ path: String, _ expected: String) -> ProtocolError {
        ProtocolError("invalid OTLP/JSON at byte \(value.offset): \(path) must be \(expected), not \(value.typeName)")
    }
}
