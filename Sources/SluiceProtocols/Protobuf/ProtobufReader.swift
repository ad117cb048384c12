/// Reads the protobuf wire format (protobuf.dev/programming-guides/encoding) for the few
/// messages Sluice takes, as VictoriaMetrics' `easyproto` does: field by field, with no
/// generated types, skipping fields it does not know. Every read is bounds-checked, and a
/// malformed message throws an error that names the byte offset.
public struct ProtobufReader {
    public enum WireType: UInt8, Sendable {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    /// One field: its number and, for length-delimited fields, the bytes.
    public struct Field {
        public var number: Int
        public var wireType: WireType
        /// The value of a varint or fixed field, as raw bits.
        public var bits: UInt64
        /// The payload of a length-delimited field (a sub-message, string, bytes or packed array).
        public var bytes: UnsafeBufferPointer<UInt8>

        /// An int32, int64, uint32 or uint64 field (two's complement for negative ints).
        public var uint64: UInt64 { bits }
        public var int64: Int64 { Int64(bitPattern: bits) }
        /// An sint32 or sint64 field (zig-zag).
        public var sint64: Int64 { Int64(bitPattern: (bits >> 1) ^ (0 &- (bits & 1))) }
        /// A double (fixed64) field.
        public var double: Double { Double(bitPattern: bits) }
        public var bool: Bool { bits != 0 }
        /// A string field; invalid UTF-8 is repaired, never trusted.
        public var string: String { String(decoding: bytes, as: UTF8.self) }
        /// A sub-message.
        public var message: ProtobufReader { ProtobufReader(bytes, base: base) }
        /// Where the payload starts in the outermost message, for error messages.
        let base: Int
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    /// The offset of `bytes` within the outermost message.
    private let base: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.init(bytes, base: 0)
    }

    init(_ bytes: UnsafeBufferPointer<UInt8>, base: Int) {
        self.bytes = bytes
        self.base = base
    }

    /// The next field, or `nil` at the end of the message.
    public mutating func next() throws(ProtocolError) -> Field? {
        guard position < bytes.count else { return nil }
        let start = position
        let key = try varint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw error("unknown wire type \(key & 7)", at: start)
        }
        let number = Int(truncatingIfNeeded: key >> 3)
        guard number > 0, key >> 3 <= 0x1FFF_FFFF else { throw error("invalid field number \(key >> 3)", at: start) }
        switch wireType {
        case .varint:
            return Field(number: number, wireType: wireType, bits: try varint(), bytes: empty, base: base)
        case .fixed64:
            return Field(number: number, wireType: wireType, bits: try fixed(8), bytes: empty, base: base)
        case .fixed32:
            return Field(number: number, wireType: wireType, bits: try fixed(4), bytes: empty, base: base)
        case .lengthDelimited:
            let length = try varint()
            guard length <= UInt64(bytes.count - position) else {
                throw error("field \(number) claims \(length) bytes, but only \(bytes.count - position) remain", at: start)
            }
            let payloadStart = position
            position += Int(length)
            return Field(number: number, wireType: wireType, bits: length,
                         bytes: UnsafeBufferPointer(rebasing: bytes[payloadStart..<position]), base: base + payloadStart)
        case .startGroup, .endGroup:
            // Groups are deprecated and unused by OTLP and remote write.
            throw error("field \(number) uses the deprecated group encoding", at: start)
        }
    }

    /// A varint at the reader's position.
    private mutating func varint() throws(ProtocolError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw error("varint overflows 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error("varint longer than 10 bytes", at: start) }
        }
        throw error("message ends inside a varint", at: start)
    }

    private mutating func fixed(_ size: Int) throws(ProtocolError) -> UInt64 {
        guard bytes.count - position >= size else { throw error("message ends inside a \(size * 8)-bit field", at: position) }
        var result: UInt64 = 0
        for i in 0..<size { result |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += size
        return result
    }

    private func error(_ message: String, at offset: Int) -> ProtocolError {
        ProtocolError("invalid protobuf at byte \(base + offset): \(message)")
    }

    private var empty: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[0..<0]) }
}

extension ProtobufReader.Field {
    /// The elements of a packed `repeated fixed64` / `double` field (or a single unpacked one).
    public func packedFixed64() throws(ProtocolError) -> [UInt64] {
        if wireType == .fixed64 { return [bits] }
        guard wireType == .lengthDelimited, bytes.count % 8 == 0 else {
            throw ProtocolError("invalid protobuf at byte \(base): field \(number) is not a packed array of 64-bit values")
        }
        var out = [UInt64]()
        out.reserveCapacity(bytes.count / 8)
        var i = 0
        while i < bytes.count {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            out.append(v)
            i += 8
        }
        return out
    }

    /// The elements of a packed `repeated uint64` / `int64` field (or a single unpacked one).
    public func packedVarints() throws(ProtocolError) -> [UInt64] {
        if wireType == .varint { return [bits] }
        guard wireType == .lengthDelimited else {
            throw ProtocolError("invalid protobuf at byte \(base): field \(number) is not a packed array of varints")
        }
        var reader = VarintArray(bytes: bytes, base: base)
        var out = [UInt64]()
        while let v = try reader.next() { out.append(v) }
        return out
    }

    /// Checks the field has the wire type its schema gives, so a double is never read from a varint.
    public func expect(_ type: ProtobufReader.WireType, _ name: String) throws(ProtocolError) {
        guard wireType == type else {
            throw ProtocolError("invalid protobuf at byte \(base): field \(number) (\(name)) has wire type \(wireType.rawValue), expected \(type.rawValue)")
        }
    }
}

/// Varints packed back to back.
private struct VarintArray {
    let bytes: UnsafeBufferPointer<UInt8>
    let base: Int
    var position = 0

    mutating func next() throws(ProtocolError) -> UInt64? {
        guard position < bytes.count else { return nil }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { break }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw ProtocolError("invalid protobuf at byte \(base + position): a packed varint array ends inside a varint")
    }
}
