/// Reads OTLP's protobuf messages with `ProtobufReader`, field numbers from
/// opentelemetry-proto v1. Unknown fields are skipped (newer senders add some); a known field
/// with the wrong wire type, or bytes that are not protobuf, fail the whole message with the
/// byte offset.
enum OTLPProtobuf {
    /// `AnyValue`s nest (arrays, key-value lists); deeper than this is refused, so a hostile
    /// body cannot exhaust the stack.
    static let maximumValueDepth = 32

    /// Calls `body` with each field of the message in `bytes`.
    static func fields(_ field: ProtobufReader.Field, _ name: String,
                       _ body: (ProtobufReader.Field) throws(ProtocolError) -> Void) throws(ProtocolError) {
        try field.expect(.lengthDelimited, name)
        var reader = field.message
        while let inner = try reader.next() { try body(inner) }
    }

    // MARK: common.proto, resource.proto

    /// `KeyValue { string key = 1; AnyValue value = 2; }`
    static func keyValue(_ field: ProtobufReader.Field, depth: Int = 0) throws(ProtocolError) -> OTLP.KeyValue {
        var pair = OTLP.KeyValue(key: "", value: .empty)
        try fields(field, "attributes") { f throws(ProtocolError) in
            switch f.number {
            case 1: try f.expect(.lengthDelimited, "key"); pair.key = f.string
            case 2: pair.value = try anyValue(f, depth: depth)
            default: break
            }
        }
        return pair
    }

    /// `AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
    /// double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6;
    /// bytes bytes_value = 7; } }`
    static func anyValue(_ field: ProtobufReader.Field, depth: Int) throws(ProtocolError) -> OTLP.AnyValue {
        guard depth < maximumValueDepth else {
            throw ProtocolError("invalid OTLP at byte \(field.base): attribute values nested deeper than \(maximumValueDepth) levels")
        }
        var value = OTLP.AnyValue.empty
        try fields(field, "value") { f throws(ProtocolError) in
            switch f.number {
            case 1: try f.expect(.lengthDelimited, "string_value"); value = .string(f.string)
            case 2: try f.expect(.varint, "bool_value"); value = .bool(f.bool)
            case 3: try f.expect(.varint, "int_value"); value = .int(f.int64)
            case 4: try f.expect(.fixed64, "double_value"); value = .double(f.double)
            case 5:
                // ArrayValue { repeated AnyValue values = 1; }
                var elements: [OTLP.AnyValue] = []
                try fields(f, "array_value") { e throws(ProtocolError) in
                    if e.number == 1 { elements.append(try anyValue(e, depth: depth + 1)) }
                }
                value = .array(elements)
            case 6:
                // KeyValueList { repeated KeyValue values = 1; }
                var pairs: [OTLP.KeyValue] = []
                try fields(f, "kvlist_value") { e throws(ProtocolError) in
                    if e.number == 1 { pairs.append(try keyValue(e, depth: depth + 1)) }
                }
                value = .keyValues(pairs)
            case 7: try f.expect(.lengthDelimited, "bytes_value"); value = .bytes(Array(f.bytes))
            default: break
            }
        }
        return value
    }

    /// `Resource { repeated KeyValue attributes = 1; }`
    static func resource(_ field: ProtobufReader.Field) throws(ProtocolError) -> [OTLP.KeyValue] {
        var attributes: [OTLP.KeyValue] = []
        try fields(field, "resource") { f throws(ProtocolError) in
            if f.number == 1 { attributes.append(try keyValue(f)) }
        }
        return attributes
    }

    /// `InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }`
    static func scope(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.Scope {
        var scope = OTLP.Scope()
        try fields(field, "scope") { f throws(ProtocolError) in
            switch f.number {
            case 1: try f.expect(.lengthDelimited, "scope.name"); scope.name = f.string
            case 2: try f.expect(.lengthDelimited, "scope.version"); scope.version = f.string
            case 3: scope.attributes.append(try keyValue(f))
            default: break
            }
        }
        return scope
    }

    /// A `fixed64` field (`*_unix_nano`, counts).
    static func fixed64(_ f: ProtobufReader.Field, _ name: String) throws(ProtocolError) -> UInt64 {
        try f.expect(.fixed64, name)
        return f.uint64
    }

    /// A `double` field.
    static func double(_ f: ProtobufReader.Field, _ name: String) throws(ProtocolError) -> Double {
        try f.expect(.fixed64, name)
        return f.double
    }

    /// A varint field (`int32`, `uint32`, enums).
    static func varint(_ f: ProtobufReader.Field, _ name: String) throws(ProtocolError) -> UInt64 {
        try f.expect(.varint, name)
        return f.uint64
    }
}
