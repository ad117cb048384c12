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
}
