import Testing
import SluiceModel
@testable import SluiceStore

/// The float column against a plain reading of its format (FORMAT.md, "Float column"), written
/// for clarity: every size from its own pass, every encoded value in an array of its own.
@Suite("Float column against its format")
struct FloatColumnReferenceTests {
    enum Reference {
        static let powers: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]
        static let exact = 9_007_199_254_740_992.0

        static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
        static func varint(_ v: UInt64) -> [UInt8] {
            var v = v, out: [UInt8] = []
            while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            return out + [UInt8(v)]
        }
        static func correction(_ v: Double, _ i: Int64, _ p: Double) -> Int64 {
            Int64(bitPattern: v.bitPattern) &- Int64(bitPattern: (Double(i) / p).bitPattern)
        }
        /// `v` at scale `s`, when within 16 ULPs of that decimal.
        static func fits(_ v: Double, _ s: Int) -> Bool {
            let x = v * powers[s]
            return abs(x) < exact && (-16...16).contains(correction(v, Int64(x.rounded()), powers[s]))
        }
        /// Varints, or a width and byte planes when they average two bytes or more.
        static func integers(_ values: [UInt64], planes: Bool) -> [UInt8] {
            guard planes else { return values.flatMap(varint) }
            let widest = values.reduce(0, |)
            let width = max(1, (64 - widest.leadingZeroBitCount + 7) / 8)
            return [UInt8(width)] + (0..<width).flatMap { k in values.map { UInt8(truncatingIfNeeded: $0 >> UInt64(8 * k)) } }
        }
        static func raw(_ values: [Double]) -> [UInt8] {
            let xors = values.indices.map { values[$0].bitPattern ^ ($0 == 0 ? 0 : values[$0 - 1].bitPattern) }
            let planes = xors.map { varint($0).count }.reduce(0, +) >= 2 * values.count
            return [planes ? 0xFE : 0xFF] + integers(xors, planes: planes)
        }

        static func encode(_ values: [Double]) -> [UInt8] {
            // The scale: each value, in order, keeps the scale or moves it up to the first that fits it.
            var scale = 0
            for v in values {
                guard v.isFinite else { return raw(values) }
                if fits(v, scale) { continue }
                guard let s = (scale + 1..<powers.count).first(where: { fits(v, $0) }) else { return raw(values) }
                scale = s
            }
            let p = powers[scale]
            guard values.allSatisfy({ abs($0 * p) < exact }) else { return raw(values) }
            let ints = values.map { Int64(($0 * p).rounded()) }
            let corrections = values.indices.map { correction(values[$0], ints[$0], p) }
            let deltas = ints.indices.map { zigzag(ints[$0] &- ($0 == 0 ? 0 : ints[$0 - 1])) }
            let plain = ints.map(zigzag)
            let deltaBytes = deltas.map { varint($0).count }.reduce(0, +)
            let plainBytes = plain.map { varint($0).count }.reduce(0, +)
            let anyCorrection = corrections.contains { $0 != 0 }
            let correctionBytes = anyCorrection ? corrections.map { varint(zigzag($0)).count }.reduce(0, +) : 0
            let rawBytes = values.indices.map { varint(values[$0].bitPattern ^ ($0 == 0 ? 0 : values[$0 - 1].bitPattern)).count }.reduce(0, +)
            guard min(deltaBytes, plainBytes) + correctionBytes < rawBytes else { return raw(values) }
            let asPlain = plainBytes < deltaBytes
            let asPlanes = min(deltaBytes, plainBytes) >= 2 * values.count
            let mode = UInt8(scale) | (anyCorrection ? 0x10 : 0) | (asPlain ? 0x20 : 0) | (asPlanes ? 0x40 : 0)
            return [mode] + integers(asPlain ? plain : deltas, planes: asPlanes)
                + (anyCorrection ? corrections.flatMap { varint(zigzag($0)) } : [])
        }
    }

    /// Columns of the shapes real series take, at lengths from 1 to a few hundred.
    static func column(_ shape: Int, count: Int, random: inout SeededRandom) -> [Double] {
        func r(_ n: UInt64) -> Double { Double(random.next() % n) }
        return (0..<count).map { i in
            switch shape {
            case 0: return r(1_000) / 100 + 40                                  // short decimals
            case 1: return i % 3 == 0 ? (r(100_000) / 1_000).nextUp : r(100_000) / 1_000  // with binary noise
            case 2: return Double(1_700_000_000 + i * 15) + r(3)               // large, smooth integers
            case 3: return Double(bitPattern: random.next() >> 2)              // no decimal form
            case 4: return i == count / 2 ? 0.000_001 * r(7) : r(50)          // the scale moves up mid-column
            case 5: return r(1_000_000_000_000) * 7.1                          // wide integers: byte planes
            case 6: return i == count - 1 ? .infinity : r(10)                  // not finite: raw
            case 7: return [0.1, 0.2, 0.30000000000000004, -0.0, 1e15, 1e-15][i % 6]
            default: return r(2) == 0 ? -r(1_000) / 8 : r(1_000) / 3            // thirds: no short decimal
            }
        }
    }

    @Test("every column encodes to the bytes its format describes, and decodes bit for bit")
    func matchesFormat() throws {
        var random = SeededRandom(seed: 0xF10A7)
        // One scratch for all: it is longer than many columns, as in a block.
        var scratch = FloatColumn.Scratch()
        for shape in 0..<9 {
            for count in [1, 2, 3, 17, 64, 300, 5] {
                let values = Self.column(shape, count: count, random: &random)
                var w = ByteWriter()
                values.withUnsafeBufferPointer { FloatColumn.encode($0, into: &w, scratch: &scratch) }
                #expect(w.bytes == Reference.encode(values), "shape \(shape), \(count) values")
                var r = ByteReader(w.bytes)
                #expect(try FloatColumn.decode(count, from: &r).map(\.bitPattern) == values.map(\.bitPattern))
            }
        }
    }
}
