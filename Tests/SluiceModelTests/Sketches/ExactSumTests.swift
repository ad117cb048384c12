import Testing
import SluiceTesting
@testable import SluiceModel

@Suite("Exact sum")
struct ExactSumTests {
    @Test("the sum is correctly rounded where naive summation is not")
    func correctlyRounded() {
        var s = ExactSum()
        for v in [1e100, 1.0, -1e100] { s.add(v) }
        #expect(s.value == 1.0)
        var t = ExactSum()
        for _ in 0..<10 { t.add(0.1) }
        #expect(t.value == 1.0)
    }

    @Test("the sum does not depend on the order of the values")
    func orderIndependent() {
        var random = SeededRandom(seed: 3)
        let values = (0..<5_000).map { _ in (random.unit() - 0.5) * pow(10, Double(Int(random.unit() * 30) - 15)) }
        var forward = ExactSum(), backward = ExactSum(), shuffled = ExactSum()
        for v in values { forward.add(v) }
        for v in values.reversed() { backward.add(v) }
        var rng = SystemRandomNumberGenerator()
        for v in values.shuffled(using: &rng) { shuffled.add(v) }
        #expect(forward.value == backward.value)
        #expect(forward.value == shuffled.value)
    }

    /// Shewchuk's algorithm as Python's `math.fsum` writes it: one plain array of partials.
    static func referenceAdd(_ v: Double, to partials: inout [Double]) {
        var x = v
        var kept = 0
        for p in partials {
            var a = x, b = p
            if abs(a) < abs(b) { swap(&a, &b) }
            let hi = a + b
            let lo = b - (hi - a)
            if lo != 0 {
                partials[kept] = lo
                kept += 1
            }
            x = hi
        }
        partials.removeSubrange(kept...)
        partials.append(x)
    }

    @Test("after every value, the partials are those of the textbook algorithm, from one to many", arguments: [
        "decimals", "wide", "cancelling", "integers",
    ])
    func matchesTheTextbook(kind: String) {
        var random = SeededRandom(seed: UInt64(kind.utf8.count))
        let values: [Double] = (0..<20_000).map { i in
            switch kind {
            case "decimals": return Double(random.next() % 1_000_000) / 100  // 6825.54 and the like
            case "wide": return (random.unit() - 0.5) * pow(10, Double(Int(random.unit() * 40) - 20))
            case "cancelling": return (i % 2 == 0 ? 1 : -1) * pow(2, Double(Int(random.unit() * 200) - 100)) * (1 + random.unit())
            default: return Double(Int64(random.next() % 2_000_001) - 1_000_000)
            }
        }
        var sum = ExactSum()
        var expected: [Double] = []
        var most = 0
        for (i, v) in values.enumerated() {
            sum.add(v)
            Self.referenceAdd(v, to: &expected)
            most = max(most, expected.count)
            guard sum.partials == expected else {
                Issue.record("after \(i + 1) \(kind) values: \(sum.partials), expected \(expected)")
                return
            }
        }
        if kind == "wide" || kind == "cancelling" { #expect(most > ExactSum.inlineCount, "the stream never needed the partials past the inline ones") }
    }

    @Test("equal sums are equal and hash alike however they were reached")
    func canonicalEquality() {
        var winding = ExactSum()
        for v in [0.1, 0.2, 1e-30, 1e30, -1e30, -1e-30] { winding.add(v) }
        var direct = ExactSum()
        for p in winding.partials { direct.add(p) }
        #expect(winding.partials == direct.partials)
        #expect(winding == direct)
        #expect(winding.hashValue == direct.hashValue)
        var other = direct
        other.add(1)
        #expect(other != direct)
    }

    @Test("merged partial sums equal one sum")
    func merge() {
        var a = ExactSum(), b = ExactSum(), all = ExactSum()
        for i in 0..<1000 {
            let v = Double(i) * 0.001 + 1e-9
            if i % 2 == 0 { a.add(v) } else { b.add(v) }
            all.add(v)
        }
        a.add(b)
        #expect(a.value == all.value)
    }
}

#if canImport(Glibc)
import Glibc
#endif
