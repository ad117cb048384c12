#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import SluiceModel

@Suite("Sketch encodings")
struct SketchEncodingTests {
    static func encoded(_ encode: (inout BinaryWriter) -> Void) -> [UInt8] {
        var w = BinaryWriter()
        encode(&w)
        return w.bytes
    }

    static func decodeSketch(_ bytes: [UInt8]) throws(BinaryDecodingError) -> DDSketch {
        var r = BinaryReader(bytes)
        let sketch = try DDSketch(decoding: &r)
        try r.expectEnd("the sketch")
        return sketch
    }

    static func decodeHLL(_ bytes: [UInt8]) throws(BinaryDecodingError) -> HyperLogLog {
        var r = BinaryReader(bytes)
        let hll = try HyperLogLog(decoding: &r)
        try r.expectEnd("the sketch")
        return hll
    }

    static func decodeSum(_ bytes: [UInt8]) throws(BinaryDecodingError) -> ExactSum {
        var r = BinaryReader(bytes)
        let sum = try ExactSum(decoding: &r)
        try r.expectEnd("the sum")
        return sum
    }

    static func values(_ kind: String, seed: UInt64) -> [Double] {
        var random = SeededRandom(seed: seed)
        switch kind {
        case "empty": return []
        case "one": return [42.5]
        case "zeros": return [0, 0, -0.0, 1e-12, -1e-12]
        case "sparse": return [1e-8, 1e6, 1e6, -1e-8, -1e6]  // thousands of bins, four of them filled
        case "mixed":
            return (0..<20_000).map { i in i % 17 == 0 ? 0 : (random.unit() - 0.4) * exp(random.gaussian() * 3) }
        case "extremes":
            // Magnitudes from 1e-8 to 1e300 span more bins than a store keeps: bins collapse.
            return (0..<30_000).map { _ in (random.unit() < 0.5 ? -1 : 1) * pow(10, random.unit() * 308 - 8) }
        default: fatalError("unknown distribution \(kind)")
        }
    }

    @Test("a DDSketch decodes to the same sketch: quantiles, count, min and max bit for bit",
          arguments: ["empty", "one", "zeros", "sparse", "mixed", "extremes"])
    func ddSketchRoundTrip(kind: String) throws {
        var sketch = DDSketch()
        for v in Self.values(kind, seed: 7) { sketch.add(v) }
        if kind == "extremes" { #expect(sketch.positive.bins.count == DDSketch.BinStore.maximumBins, "the lowest bins have collapsed") }
        if kind == "sparse" {
            #expect(sketch.positive.span > 1_000, "thousands of bins in range")
            #expect(sketch.positive.bins.count == 4, "two filled, held as two (index, count) pairs")
        }
        let decoded = try Self.decodeSketch(Self.encoded(sketch.encode))
        #expect(decoded == sketch)
        #expect(decoded.count == sketch.count)
        #expect(decoded.min.bitPattern == sketch.min.bitPattern)
        #expect(decoded.max.bitPattern == sketch.max.bitPattern)
        for q in stride(from: 0.0, through: 1.0, by: 0.01) {
            #expect(decoded.quantile(q)?.bitPattern == sketch.quantile(q)?.bitPattern, "q = \(q)")
        }
    }

    /// The dense store every sketch used to be: counts for every index from the first to the
    /// last ever added, collapsing the lowest past `maximumBins`. Sparse or dense, a store must
    /// encode and answer exactly as this one does.
    struct DenseOracle {
        var offset = 0
        var bins: [UInt64] = []
        mutating func add(_ index: Int) {
            let limit = DDSketch.BinStore.maximumBins
            if bins.isEmpty { offset = index; bins = [1]; return }
            var i = index - offset
            if i >= 0 && i < bins.count { bins[i] += 1; return }
            if i < 0 {
                if bins.count - i > limit {
                    let keep = limit - bins.count
                    if keep > 0 { bins.insert(contentsOf: repeatElement(0, count: keep), at: 0); offset -= keep }
                    bins[0] += 1
                    return
                }
                bins.insert(contentsOf: repeatElement(0, count: -i), at: 0)
                offset = index
                i = 0
            } else if i >= limit {
                let shift = i + 1 - limit
                let folded = bins[0..<min(shift + 1, bins.count)].reduce(0, +)
                bins.removeFirst(min(shift, bins.count))
                if bins.isEmpty { bins.append(0) }
                bins[0] = folded
                offset += shift
                i = index - offset
            }
            if i >= bins.count { bins.append(contentsOf: repeatElement(0, count: i - bins.count + 1)) }
            bins[i] += 1
        }
        /// The store's encoding: first index, span, filled bins as (gap, count).
        var encoded: [UInt8] {
            var w = BinaryWriter()
            w.signed(Int64(offset))
            w.varint(bins.count)
            w.varint(bins.filter { $0 > 0 }.count)
            var previous = -1
            for (i, c) in bins.enumerated() where c > 0 { w.varint(i - previous - 1); w.varint(c); previous = i }
            return w.bytes
        }
    }

    @Test("a store that starts sparse encodes and answers exactly as a dense one, in any order and however wide",
          arguments: [1, 3, 9, 40, 70, 500, 5_000])
    func sparseEqualsDense(distinct: Int) throws {
        var random = SeededRandom(seed: UInt64(distinct))
        for spread in [4, 100, 2_000, 20_000] {
            // `distinct` bin indices spread over `spread`, each added a few times, shuffled.
            var indices: [Int] = []
            for _ in 0..<distinct { let i = Int(random.next() % UInt64(spread)) - spread / 3; indices += Array(repeating: i, count: 1 + Int(random.next() % 3)) }
            for k in stride(from: indices.count - 1, to: 0, by: -1) { indices.swapAt(k, Int(random.next() % UInt64(k + 1))) }
            var store = DDSketch.BinStore()
            var oracle = DenseOracle()
            for i in indices { store.add(i, count: 1); oracle.add(i) }
            var w = BinaryWriter()
            store.encode(into: &w)
            #expect(w.bytes == oracle.encoded, "\(distinct) indices over \(spread)")
            var dense = DDSketch.BinStore(offset: oracle.offset, dense: oracle.bins)
            #expect(store == dense && store.hashValue == dense.hashValue)
            // Adding on after the switch keeps them equal.
            for i in indices.prefix(5) { store.add(i + 1, count: 1); dense.add(i + 1, count: 1) }
            #expect(store == dense)
        }
    }

    @Test("a decoded DDSketch keeps adding and merging exactly as the original")
    func ddSketchContinues() throws {
        var original = DDSketch()
        for v in Self.values("mixed", seed: 1) { original.add(v) }
        var decoded = try Self.decodeSketch(Self.encoded(original.encode))
        var other = DDSketch()
        for v in Self.values("extremes", seed: 2) { other.add(v) }
        for v in [3.5, -2, 0, 1e9] { original.add(v); decoded.add(v) }
        original.merge(other)
        decoded.merge(try Self.decodeSketch(Self.encoded(other.encode)))
        #expect(decoded == original)
        #expect(decoded.quantile(0.99) == original.quantile(0.99))
    }

    @Test("an exact sum decodes to the same correctly rounded total and keeps summing exactly",
          arguments: ["empty", "one", "zeros", "mixed", "extremes"])
    func exactSumRoundTrip(kind: String) throws {
        var sum = ExactSum()
        for v in Self.values(kind, seed: 11) { sum.add(v) }
        var decoded = try Self.decodeSum(Self.encoded(sum.encode))
        #expect(decoded.value.bitPattern == sum.value.bitPattern)
        #expect(decoded.partials.map(\.bitPattern) == sum.partials.map(\.bitPattern))
        for v in [1e100, 1.0, -1e100, 0.1] { sum.add(v); decoded.add(v) }
        #expect(decoded.value.bitPattern == sum.value.bitPattern)
    }

    @Test("an overflowed sum stays infinite after decoding")
    func exactSumOverflow() throws {
        var sum = ExactSum()
        sum.add(.greatestFiniteMagnitude)
        sum.add(.greatestFiniteMagnitude)
        let decoded = try Self.decodeSum(Self.encoded(sum.encode))
        #expect(decoded.value == .infinity)
    }

    @Test("a HyperLogLog decodes to the same estimate, exact or dense", arguments: [0, 1, 100, 2_048, 2_049, 50_000])
    func hyperLogLogRoundTrip(distinct: Int) throws {
        var hll = HyperLogLog()
        for i in 0..<distinct { hll.add("visitor-\(i)") }
        let bytes = Self.encoded(hll.encode)
        var decoded = try Self.decodeHLL(bytes)
        #expect(decoded == hll)
        #expect(decoded.estimate == hll.estimate)
        #expect(Self.encoded(decoded.encode) == bytes, "re-encoding gives the same bytes")
        for i in 0..<500 { hll.add("late-\(i)"); decoded.add("late-\(i)") }
        #expect(decoded.estimate == hll.estimate)
    }

    @Test("every truncation of a sketch's bytes throws instead of trapping")
    func truncations() throws {
        var sketch = DDSketch(), hll = HyperLogLog(), sum = ExactSum()
        for v in Self.values("mixed", seed: 5).prefix(2_000) { sketch.add(v); sum.add(v) }
        for i in 0..<300 { hll.add("v\(i)") }
        let cases: [([UInt8], ([UInt8]) throws(BinaryDecodingError) -> Void)] = [
            (Self.encoded(sketch.encode), { b throws(BinaryDecodingError) in _ = try Self.decodeSketch(b) }),
            (Self.encoded(hll.encode), { b throws(BinaryDecodingError) in _ = try Self.decodeHLL(b) }),
            (Self.encoded(sum.encode), { b throws(BinaryDecodingError) in _ = try Self.decodeSum(b) }),
        ]
        for (bytes, decode) in cases {
            for n in 0..<bytes.count {
                #expect(throws: BinaryDecodingError.self, "first \(n) of \(bytes.count) bytes") { try decode(Array(bytes.prefix(n))) }
            }
        }
    }

    @Test("damaged sketch bytes decode or throw, never trap; decoded ones still answer")
    func corruptions() {
        var sketch = DDSketch(), hll = HyperLogLog()
        for v in Self.values("mixed", seed: 9).prefix(3_000) { sketch.add(v) }
        for i in 0..<3_000 { hll.add("v\(i)") }
        let sketchBytes = Self.encoded(sketch.encode), hllBytes = Self.encoded(hll.encode)
        var random = SeededRandom(seed: 21)
        for _ in 0..<2_000 {
            var b = sketchBytes
            b[Int(random.next() % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            if let damaged = try? Self.decodeSketch(b) {
                var more = damaged
                more.add(1)
                _ = more.quantile(0.5)
            }
            var h = hllBytes
            h[Int(random.next() % 64)] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            h[Int(random.next() % UInt64(h.count))] = UInt8(truncatingIfNeeded: random.next())
            if var damaged = try? Self.decodeHLL(h) {
                damaged.add("x")
                _ = damaged.estimate
            }
        }
    }

    @Test("a sketch whose bins do not add up to its count is refused")
    func inconsistentCounts() {
        var sketch = DDSketch()
        for v in [1.0, 2, 3] { sketch.add(v) }
        var bytes = Self.encoded(sketch.encode)
        bytes[0] = 4  // the count, a one-byte varint
        #expect(throws: BinaryDecodingError.self) { try Self.decodeSketch(bytes) }
    }

    @Test("a register no hash could set is refused")
    func impossibleRegister() {
        var hll = HyperLogLog()
        for i in 0..<5_000 { hll.add("v\(i)") }
        var bytes = Self.encoded(hll.encode)
        bytes[2 + 100] = 51
        #expect(throws: BinaryDecodingError.self) { try Self.decodeHLL(bytes) }
    }

    @Test("series keys and labels round-trip: platform-wide, empty, non-ASCII")
    func seriesKeys() throws {
        let keys = [
            SeriesKey(tenantID: nil, name: "cpu"),
            SeriesKey(tenantID: "", name: ""),
            SeriesKey(tenantID: "acme", name: "résumé_time", labels: ["host": "h1", "région": "eu-ouest", "z": ""]),
        ]
        var w = BinaryWriter()
        for key in keys { key.encode(into: &w) }
        var r = BinaryReader(w.bytes)
        for key in keys { #expect(try SeriesKey(decoding: &r) == key) }
        #expect(r.isAtEnd)
    }

    @Test("labels out of order are refused (they could not key a series)")
    func unsortedLabels() {
        var w = BinaryWriter()
        w.varint(2)
        for s in ["b", "1", "a", "2"] { w.string(s) }
        var r = BinaryReader(w.bytes)
        #expect(throws: BinaryDecodingError.self) { try Labels(decoding: &r) }
    }
}
