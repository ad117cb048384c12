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
