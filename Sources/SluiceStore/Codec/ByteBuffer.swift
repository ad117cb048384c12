/// Appends fixed-width little-endian integers and LEB128 varints to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// Zig-zag: small magnitudes of either sign take few bytes.
    mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func string(_ s: String) {
        var copy = s
        copy.withUTF8 { utf8 in
            varint(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func raw(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Appends what `body` writes through a `Cursor` of room for `maximum` bytes; `body` must
    /// write no more. A column written this way pays for appending once, not once per byte.
    mutating func append(atMost maximum: Int, _ body: (inout Cursor) -> Void) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: maximum))
        let written = bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = Cursor(buffer.baseAddress! + start)
            body(&cursor)
            return cursor.next - (buffer.baseAddress! + start)
        }
        precondition(written <= maximum, "wrote past the room asked for")
        bytes.removeLast(maximum - written)
    }

    /// Writes into room `append(atMost:_:)` made, with no bounds checks: the caller asked for
    /// enough.
    struct Cursor {
        fileprivate(set) var next: UnsafeMutablePointer<UInt8>

        fileprivate init(_ start: UnsafeMutablePointer<UInt8>) { next = start }

        /// At most 10 bytes.
        @inline(__always)
        mutating func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                next.pointee = UInt8(truncatingIfNeeded: v) | 0x80
                next += 1
                v >>= 7
            }
            next.pointee = UInt8(v)
            next += 1
        }

        /// Zig-zag, as `ByteWriter.signed`; at most 10 bytes.
        @inline(__always)
        mutating func signed(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

        @inline(__always)
        mutating func u8(_ value: UInt8) {
            next.pointee = value
            next += 1
        }
    }
}

/// Reads what `ByteWriter` wrote; every read checks bounds and throws on damage, never traps.
struct ByteReader {
    let bytes: [UInt8]
    var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func u8() throws(StoreError) -> UInt8 {
        guard offset < bytes.count else { throw .corrupt("block ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() throws(StoreError) -> UInt32 {
        guard remaining >= 4 else { throw .corrupt("block ends early") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    mutating func u64() throws(StoreError) -> UInt64 {
        guard remaining >= 8 else { throw .corrupt("block ends early") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    mutating func i64() throws(StoreError) -> Int64 { Int64(bitPattern: try u64()) }

    mutating func varint() throws(StoreError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .corrupt("varint runs past the block") }
            let b = bytes[offset]
            offset += 1
            guard shift < 64 else { throw .corrupt("varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// A varint used as a count or index, bounded so damaged input cannot ask for absurd memory.
    mutating func count(max: Int = 1 << 28) throws(StoreError) -> Int {
        let v = try varint()
        guard v <= UInt64(max) else { throw .corrupt("count \(v) out of range") }
        return Int(v)
    }

    mutating func signed() throws(StoreError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func string() throws(StoreError) -> String {
        let n = try count()
        guard remaining >= n else { throw .corrupt("string runs past the block") }
        defer { offset += n }
        guard let s = String(validating: bytes[offset..<(offset + n)], as: UTF8.self) else { throw .corrupt("string is not UTF-8") }
        return s
    }
}
