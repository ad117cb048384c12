import Testing
@testable import SluiceModel

@Suite("HyperLogLog")
struct HyperLogLogTests {
    @Test("small sets are counted exactly")
    func exactBelowThreshold() {
        var hll = HyperLogLog()
        for i in 0..<2_000 { hll.add("visitor-\(i)"); hll.add("visitor-\(i)") }
        #expect(hll.estimate == 2_000)
    }

    @Test("estimates are within 2% above 1,000 distinct visitors", arguments: [1_025, 2_049, 3_000, 5_000, 20_000, 60_000, 250_000, 1_000_000])
    func accuracy(distinct: Int) {
        var hll = HyperLogLog()
        for i in 0..<distinct { hll.add("user-\(i)@example.com") }
        let error = abs(Double(hll.estimate) - Double(distinct)) / Double(distinct)
        #expect(error <= 0.02, "\(distinct): estimated \(hll.estimate)")
    }

    @Test("merge equals the sketch of the union, whatever the modes")
    func merge() {
        var a = HyperLogLog(), b = HyperLogLog(), union = HyperLogLog()
        for i in 0..<30_000 { a.add("u\(i)"); union.add("u\(i)") }
        for i in 20_000..<20_500 { b.add("u\(i)"); union.add("u\(i)") }
        for i in 40_000..<40_300 { b.add("u\(i)"); union.add("u\(i)") }
        var ab = a
        ab.merge(b)
        #expect(ab.estimate == union.estimate)
        var ba = b
        ba.merge(a)
        #expect(ba.estimate == union.estimate)
    }

    @Test("the hash is the same on every run (replays depend on it)")
    func stableHash() {
        // FNV-1a then MurmurHash3's finaliser, computed independently.
        #expect(StableHash.hash("visitor-1") == 0xfc1f_761e_d37d_2af6)
        #expect(StableHash.hash("") == StableHash.mix(0xcbf2_9ce4_8422_2325))
    }
}
