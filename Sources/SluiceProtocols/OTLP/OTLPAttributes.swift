import SluiceModel

/// Attribute values as label values: strings as they are, numbers and booleans as text,
/// bytes as base64, arrays and key-value lists as compact JSON (as the Collector's
/// `AsString` renders them).
extension OTLP.AnyValue {
    var labelValue: String {
        switch self {
        case .empty: return ""
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let n): return String(n)
        case .double(let x): return x.description
        case .bytes(let bytes): return OTLP.base64(bytes)
        case .array, .keyValues:
            var json = JSONWriter()
            write(to: &json)
            return String(decoding: json.bytes, as: UTF8.self)
        }
    }

    private func write(to json: inout JSONWriter) {
        switch self {
        case .empty: json.null()
        case .string(let text): json.string(text)
        case .bool(let flag): json.bool(flag)
        case .int(let n): json.integer(n)
        case .double(let x): if x.isFinite { json.number(x) } else { json.string(x.description) }
        case .bytes(let bytes): json.string(OTLP.base64(bytes))
        case .array(let elements):
            json.beginArray()
            for e in elements { e.write(to: &json) }
            json.endArray()
        case .keyValues(let pairs):
            json.beginObject()
            for p in pairs { json.key(p.key); p.value.write(to: &json) }
            json.endObject()
        }
    }

    /// The value as a non-negative integer count (token usage): an int, or a double that is a
    /// whole number.
    var count: UInt64? {
        switch self {
        case .int(let n): n >= 0 ? UInt64(n) : nil
        case .double(let x): x >= 0 && x < 0x1p64 && x.rounded() == x ? UInt64(x) : nil
        default: nil
        }
    }
}

extension OTLP {
    /// Attributes as label pairs, in the order sent (a later duplicate key wins).
    static func labels(_ attributes: [KeyValue]) -> [Labels.Label] {
        attributes.map { Labels.Label(key: $0.key, value: $0.value.labelValue) }
    }

    /// The resource attributes that become labels: those that name the service and where it
    /// runs, and `tenant_id`. The rest (`telemetry.sdk.*`, `process.*`, `host.*`, and
    /// `service.instance.id`, new for every process) would split a service's windows into one
    /// series per process and restart, so they stay out, as Prometheus keeps them out of its
    /// series and in `target_info`.
    static func resourceLabels(_ attributes: [KeyValue]) -> [Labels.Label] {
        labels(attributes.filter { identifyingResourceAttributes.contains($0.key) })
    }

    static let identifyingResourceAttributes: Set<String> = [
        "service.name", "service.namespace", "deployment.environment", "deployment.environment.name", ProtocolContext.tenantLabel,
    ]

    /// The value of attribute `key`, the last one when it repeats.
    static func attribute(_ key: String, in attributes: [KeyValue]) -> AnyValue? {
        attributes.last { $0.key == key }?.value
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var group = UInt32(bytes[i]) << 16
            if n > 1 { group |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { group |= UInt32(bytes[i + 2]) }
            for k in 0..<4 {
                out.append(k <= n ? alphabet[Int(group >> UInt32(18 - 6 * k) & 63)] : UInt8(ascii: "="))
            }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex, as OTLP/JSON spells trace and span ids.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
