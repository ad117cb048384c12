import Testing
import SluiceTesting
@testable import SluiceModel

@Suite("DDSketch")
struct DDSketchTests {
    /// The nearest-rank sample: the ⌈q·n⌉-th smallest.
    static func exact(_ sorted: [Double], _ q: Double) -> Double {
        let rank = max(1, Int((q * Double(sorted.count) - 1e-9).rounded(.up)))
        return sorted[rank - 1]
    }

    static func withinOnePercent(_ estimate: Double, _ exact: Double) -> Bool {
        abs(estimate - exact) <= 0.01 * abs(exact) + 1e-12
    }

    @Test("quantiles are within 1% of the exact sample of that rank", arguments: ["uniform", "lognormal", "pareto", "mixed-sign", "constant", "tiny"])
    func accuracy(distribution: String) {
        var random = SeededRandom(seed: 99)
        var sketch = DDSketch()
        var values: [Double] = []
        let n = distribution == "tiny" ? 7 : 20_000
        for _ in 0..<n {
            let u = random.unit()
            let v: Double
            switch distribution {
            case "uniform": v = u * 1000
            case "lognormal": v = exp(random.gaussian() * 2 + 3)
            case "pareto": v = 1 / pow(1 - u, 1 / 1.2)
            case "mixed-sign": v = (u - 0.3) * 500
            case "constant": v = 42
            default: v = Double(Int(u * 10))
            }
            values.append(v)
            sketch.add(v)
        }
        values.sort()
        #expect(sketch.count == UInt64(n))
        #expect(sketch.min == values.first)
        #expect(sketch.max == values.last)
        for q in [0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999] {
            let estimate = sketch.quantile(q)!
            let truth = Self.exact(values, q)
            #expect(Self.withinOnePercent(estimate, truth), "q=\(q): \(estimate) vs \(truth)")
        }
    }

    @Test("merging sketches equals sketching the union")
    func merge() {
        var random = SeededRandom(seed: 5)
        var a = DDSketch(), b = DDSketch(), both = DDSketch()
        for i in 0..<10_000 {
            let v = exp(random.gaussian() * 3)
            if i % 3 == 0 { a.add(v) } else { b.add(v) }
            both.add(v)
        }
        a.merge(b)
        for q in [0.5, 0.9, 0.99] { #expect(a.quantile(q) == both.quantile(q)) }
        #expect(a.count == both.count)
    }

    @Test("an empty sketch has no quantile")
    func empty() {
        #expect(DDSketch().quantile(0.5) == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
