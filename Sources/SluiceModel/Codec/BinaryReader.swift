/// Reads what `BinaryWriter` wrote. Every read checks bounds and throws on damage, never traps,
/// and every count is capped by the bytes left, so damaged input cannot ask for absurd memory.
public struct BinaryReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// The position of the next read.
    public private(set) var offset: Int

    /// A reader of `bytes` from `offset` on.
    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = Swift.min(Swift.max(0, offset), bytes.count)
    }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }
    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Throws unless every byte has been read: bytes after a complete value are damage too.
    public func expectEnd(_ what: @autoclosure () -> String) throws(BinaryDecodingError) {
        guard isAtEnd else { throw .malformed("\(remaining) unexpected bytes after \(what())") }
    }

    /// One byte.
    public mutating func u8() throws(BinaryDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(needed: 1, at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A byte that must be 0 or 1.
    public mutating func bool() throws(BinaryDecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let b: throw .malformed("byte \(b) at offset \(offset - 1) is not a boolean (0 or 1)")
        }
    }

    /// Four bytes, little-endian.
    public mutating func u32() throws(BinaryDecodingError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(needed: 4, at: offset) }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    /// Eight bytes, little-endian.
    public mutating func u64() throws(BinaryDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(needed: 8, at: offset) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    /// Eight bytes, two's complement.
    public mutating func i64() throws(BinaryDecodingError) -> Int64 { Int64(bitPattern: try u64()) }

    /// A double from its bit pattern.
    public mutating func f64() throws(BinaryDecodingError) -> Double { Double(bitPattern: try u64()) }

    /// A LEB128 varint of at most ten bytes.
    public mutating func varint() throws(BinaryDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .truncated(needed: 1, at: offset) }
            let b = bytes[offset]
            offset += 1
            guard shift < 64, shift < 63 || b <= 1 else { throw .malformed("varint at offset \(offset - 1) is longer than 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// A zig-zag varint.
    public mutating func signed() throws(BinaryDecodingError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    /// A count of elements that each take at least `minimumSize` bytes: refused when the bytes
    /// left could not hold that many, or when it exceeds `maximum`, before anything is allocated
    /// for them. Elements that may take no bytes (`minimumSize` 0) are bounded by `maximum` only.
    public mutating func count(minimumSize: Int = 1, maximum: Int = .max) throws(BinaryDecodingError) -> Int {
        let at = offset
        let v = try varint()
        guard v <= UInt64(Swift.max(0, maximum)) else { throw .malformed("count \(v) at offset \(at) exceeds \(maximum)") }
        guard minimumSize > 0 else { return Int(v) }
        let size = UInt64(minimumSize)
        guard v <= UInt64(remaining) / size else {
            throw .truncated(needed: Int(clamping: v.multipliedReportingOverflow(by: size).partialValue), at: offset)
        }
        return Int(v)
    }

    /// `count` bytes as they are.
    public mutating func raw(_ count: Int) throws(BinaryDecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated(needed: count, at: offset) }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// A varint length and that many bytes of UTF-8.
    public mutating func string() throws(BinaryDecodingError) -> String {
        let n = try count()
        let at = offset
        let utf8 = try raw(n)
        guard let s = String(validating: utf8, as: UTF8.self) else { throw .malformed("string at offset \(at) is not UTF-8") }
        return s
    }

    /// What `BinaryWriter.string(_: String?)` wrote.
    public mutating func optionalString() throws(BinaryDecodingError) -> String? {
        try bool() ? try string() : nil
    }
}

/// Bytes that do not hold what a binary decoder expected: cut short, or damaged.
public struct BinaryDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable { case truncated, malformed }
    private let code: Code
    /// What is wrong, and where.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The bytes end before the value does.
    public var isTruncated: Bool { code == .truncated }

    /// The bytes end `needed` bytes too early, at `offset`.
    public static func truncated(needed: Int, at offset: Int) -> Self {
        .init(.truncated, "the bytes end at offset \(offset), \(needed) short of a complete value")
    }

    /// The bytes hold something no encoder writes.
    public static func malformed(_ message: String) -> Self { .init(.malformed, message) }
}
