/// Appends little-endian integers, LEB128 varints, doubles and UTF-8 strings to a byte array:
/// the writing half of Sluice's binary encodings (sketches, checkpoints). `BinaryReader` reads
/// them back.
public struct BinaryWriter: Sendable {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// One byte.
    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    /// `false` as 0, `true` as 1.
    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Four bytes, little-endian.
    public mutating func u32(_ value: UInt32) { littleEndian(value) }

    /// Eight bytes, little-endian.
    public mutating func u64(_ value: UInt64) { littleEndian(value) }

    /// Byte by byte: appending a buffer of the value's bytes costs several times as much.
    @inline(__always)
    private mutating func littleEndian<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        var v = value
        for _ in 0..<MemoryLayout<T>.size {
            bytes.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Each value as `u64` does, in order.
    public mutating func u64s(_ values: [UInt64]) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { u64(v) }
        #endif
    }

    /// Each value as `f64` does, in order.
    public mutating func f64s(_ values: [Double]) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { f64(v) }
        #endif
    }

    /// Eight bytes, two's complement, little-endian.
    public mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }

    /// The IEEE 754 bit pattern, so that every double (−0, subnormals, infinities) comes back
    /// bit for bit.
    public mutating func f64(_ value: Double) { u64(value.bitPattern) }

    /// LEB128: seven bits a byte, small values in one byte.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A count or index (never negative) as a varint.
    public mutating func varint(_ value: Int) {
        precondition(value >= 0, "a varint count is never negative")
        varint(UInt64(value))
    }

    /// Zig-zag then LEB128: small magnitudes of either sign take few bytes.
    public mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Its UTF-8 length as a varint, then the bytes.
    public mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { utf8 in
            varint(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    /// 0 for `nil`; otherwise 1 and the string.
    public mutating func string(_ value: String?) {
        guard let value else { return u8(0) }
        u8(1)
        string(value)
    }

    /// Bytes as they are, with no length in front.
    public mutating func raw(_ other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }
}
