import Testing
@testable import SluiceModel

@Suite("Binary codec")
struct BinaryCodecTests {
    @Test("integers, doubles and strings come back as written, at their extremes")
    func roundTrip() throws {
        var w = BinaryWriter()
        let unsigned: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, .max - 1, .max]
        let signed: [Int64] = [0, -1, 1, -64, 64, .min, .max]
        let doubles: [Double] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1]
        for v in unsigned { w.varint(v); w.u64(v) }
        for v in signed { w.signed(v); w.i64(v) }
        for v in doubles { w.f64(v) }
        w.string("naïve ✓")
        w.string(nil as String?)
        w.string("" as String?)
        w.u32(0xDEAD_BEEF)
        var r = BinaryReader(w.bytes)
        for v in unsigned { #expect(try r.varint() == v); #expect(try r.u64() == v) }
        for v in signed { #expect(try r.signed() == v); #expect(try r.i64() == v) }
        for v in doubles { #expect(try r.f64().bitPattern == v.bitPattern) }
        #expect(try r.string() == "naïve ✓")
        #expect(try r.optionalString() == nil)
        #expect(try r.optionalString() == "")
        #expect(try r.u32() == 0xDEAD_BEEF)
        try r.expectEnd("the values")
    }

    @Test("fixed-width values are little-endian, and a whole array of them is each value in turn")
    func fixedWidth() throws {
        var w = BinaryWriter()
        w.u32(0x0102_0304)
        w.u64(0x0102_0304_0506_0708)
        #expect(w.bytes == [4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1])
        // The bytes spelled out from each value's bits, not by the writer.
        func spelled(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        for count in [0, 1, 7, 1_000] {
            let words = (0..<count).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
            let doubles = words.map { Double(bitPattern: $0 | 1) } + [-0.0, .nan, .infinity]
            var bulk = BinaryWriter()
            bulk.u8(0xAB)
            bulk.u64s(words)
            bulk.f64s(doubles)
            #expect(bulk.bytes == [0xAB] + words.flatMap(spelled) + doubles.flatMap { spelled($0.bitPattern) })
            var r = BinaryReader(bulk.bytes)
            _ = try r.u8()
            for v in words { #expect(try r.u64() == v) }
            for v in doubles { #expect(try r.f64().bitPattern == v.bitPattern) }
            try r.expectEnd("the arrays")
        }
    }

    @Test("a count larger than the bytes left is refused before anything is allocated")
    func hugeCount() {
        var w = BinaryWriter()
        w.varint(UInt64(1) << 60)
        var r = BinaryReader(w.bytes)
        #expect(throws: BinaryDecodingError.self) { try r.count(minimumSize: 8) }
    }

    @Test("a varint longer than 64 bits, a non-boolean byte and non-UTF-8 text are refused")
    func malformed() {
        var r = BinaryReader([UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect(throws: BinaryDecodingError.self) { try r.varint() }
        var b = BinaryReader([2])
        #expect(throws: BinaryDecodingError.self) { try b.bool() }
        var s = BinaryReader([2, 0xC3, 0x28])
        #expect(throws: BinaryDecodingError.self) { try s.string() }
    }

    @Test("CRC-32C gives the standard check value")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let whole = CRC32C.checksum(Array("hello, world".utf8))
        #expect(CRC32C.checksum(Array(", world".utf8), seed: CRC32C.checksum(Array("hello".utf8))) == whole)
    }

    @Test("CRC-32C matches RFC 3720's test vectors, in hardware and from the tables")
    func crcVectors() {
        // RFC 3720, appendix B.4: 32 bytes of zeros, of ones, ascending and descending.
        let vectors: [([UInt8], UInt32)] = [
            ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
            ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
            ((0..<32).map { UInt8($0) }, 0x46DD_794E),
            ((0..<32).map { UInt8(31 - $0) }, 0x113F_DB5C),
        ]
        for (bytes, expected) in vectors {
            #expect(CRC32C.checksum(bytes) == expected)
            #expect(bytes.withUnsafeBytes { CRC32C.software($0) } == expected)
        }
        #if arch(x86_64) || arch(arm64)
        // Every x86-64 processor since 2008 has SSE 4.2, and Linux on 64-bit ARM servers has
        // the CRC32 extension: without it the comparison below would be of the tables alone.
        #expect(CRC32C.hardware)
        #endif
    }

    @Test("CRC-32C in hardware equals the tables' at every length, alignment and seed")
    func crcHardwareAgrees() {
        var rng = SystemRandomNumberGenerator()
        let buffer = (0..<600).map { _ in UInt8.random(in: 0...255, using: &rng) }
        buffer.withUnsafeBytes { all in
            for offset in 0..<8 {
                for count in 0...(all.count - offset) where count < 40 || count % 7 == 0 {
                    let bytes = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)])
                    let seed = UInt32.random(in: 0...UInt32.max, using: &rng)
                    #expect(CRC32C.checksum(bytes, seed: seed) == CRC32C.software(bytes, seed: seed), "\(count) bytes at offset \(offset)")
                }
            }
        }
    }
}
