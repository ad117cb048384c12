import Testing
import SluiceModel
@testable import SluiceProtocols

@Suite("Wire formats: protobuf fields and gzip bodies")
struct WireFormatTests {
    /// Python's `gzip.compress(b"hello, sluice\n", mtime=0)` and `zlib.compress(…)`.
    static let gzipped: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 215, 81, 40, 206, 41, 205, 76, 78, 229, 2, 0, 219, 57, 78, 208, 14, 0, 0, 0]
    static let zlibbed: [UInt8] = [120, 156, 203, 72, 205, 201, 201, 215, 81, 40, 206, 41, 205, 76, 78, 229, 2, 0, 39, 12, 4, 240]

    @Test("gzip and zlib bodies inflate to what Python compressed")
    func inflates() throws {
        for body in [Self.gzipped, Self.zlibbed] {
            let out = try body.withUnsafeBufferPointer { try Gzip.inflate($0, limit: 1 << 20) }
            #expect(String(decoding: out, as: UTF8.self) == "hello, sluice\n")
        }
    }

    @Test("a truncated, corrupt or oversized gzip body is refused with a reason")
    func refusesBadGzip() {
        let truncated = Array(Self.gzipped.dropLast(6))
        #expect(throws: ProtocolError.self) { try truncated.withUnsafeBufferPointer { try Gzip.inflate($0, limit: 1 << 20) } }
        var corrupt = Self.gzipped
        corrupt[12] ^= 0xFF
        #expect(throws: ProtocolError.self) { try corrupt.withUnsafeBufferPointer { try Gzip.inflate($0, limit: 1 << 20) } }
        let error = #expect(throws: ProtocolError.self) { try Self.gzipped.withUnsafeBufferPointer { try Gzip.inflate($0, limit: 5) } }
        #expect(error?.message.contains("body limit of 5 bytes") == true)
        #expect(throws: ProtocolError.self) { try [UInt8]("not gzip".utf8).withUnsafeBufferPointer { try Gzip.inflate($0, limit: 100) } }
    }

    /// protobuf.dev's encoding guide: field 1 = 150 is `08 96 01`; field 2 = "testing" is
    /// `12 07 74 65 73 74 69 6e 67`; then a fixed64 double and a zig-zag sint.
    @Test("fields decode as the protobuf encoding guide spells them, unknown ones skipped")
    func decodesFields() throws {
        var bytes: [UInt8] = [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8)
        bytes += [0x19] + withUnsafeBytes(of: (2.5).bitPattern.littleEndian, Array.init)
        bytes += [0x20, 0x03] // field 4, sint -2 (zig-zag 3)
        bytes += [0x2D, 1, 0, 0, 0] // field 5, fixed32
        var fields: [(Int, String)] = []
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = ProtobufReader(buffer)
            while let field = try reader.next() {
                switch field.number {
                case 1: fields.append((1, "\(field.uint64)"))
                case 2: fields.append((2, field.string))
                case 3: fields.append((3, "\(field.double)"))
                case 4: fields.append((4, "\(field.sint64)"))
                default: fields.append((field.number, "skipped"))
                }
            }
        }
        #expect(fields.map(\.0) == [1, 2, 3, 4, 5])
        #expect(fields.map(\.1) == ["150", "testing", "2.5", "-2", "skipped"])
    }

    @Test("a field longer than its message, a runaway varint or a group is an error naming the byte")
    func refusesMalformed() {
        for (bytes, offset) in [([UInt8]([0x08, 0x96]), 1), ([0x12, 0x09, 0x41], 0), ([0x08] + Array(repeating: 0xFF, count: 11), 1), ([0x0B], 0)] {
            let error = #expect(throws: ProtocolError.self) {
                try bytes.withUnsafeBufferPointer { buffer in
                    var reader = ProtobufReader(buffer)
                    while try reader.next() != nil {}
                }
            }
            #expect(error?.message.contains("at byte \(offset)") == true, "\(bytes): \(error?.message ?? "")")
        }
    }

    @Test("nanosecond times round down to microseconds for every Int64, the extremes included")
    func nanoseconds() {
        #expect(Timestamp(nanoseconds: 1_999).microseconds == 1)
        #expect(Timestamp(nanoseconds: -1).microseconds == -1)
        #expect(Timestamp(nanoseconds: -1_000).microseconds == -1)
        #expect(Timestamp(nanoseconds: -1_001).microseconds == -2)
        #expect(Timestamp(nanoseconds: .max).microseconds == 9_223_372_036_854_775)
        #expect(Timestamp(nanoseconds: .min).microseconds == -9_223_372_036_854_776)
    }
}
