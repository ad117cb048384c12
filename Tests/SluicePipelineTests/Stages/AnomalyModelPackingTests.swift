#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import SluiceModel
@testable import SluicePipeline

/// The novelty detector as it was before its state was packed (one array, inline history, the
/// rest period as a counter): the packed detector must score exactly as this one.
@Suite("Anomaly model: packed novelty state")
struct AnomalyModelPackingTests {
    @Test("the packed model scores every value as the reference model does, bit for bit", arguments: [0, 1, 2, 3, 4, 5])
    func sameScores(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var values: [Double] = []
        switch seed {
        case 0: values = Array(repeating: 5, count: 300)  // constant: no range
        case 1:
            for i in 0..<3_000 {
                let wave: Double = sin(Double(i) / 15) * 10
                let noise: Double = Double(random.next() % 100) / 40
                values.append(wave + noise + (i % 700 == 650 ? 60 : 0))
            }
        case 2: values = (0..<3_000).map { i in i < 1_500 ? 10 : 90 + Double(random.next() % 10) }  // a level shift
        case 3: values = (0..<3_000).map { _ in Double(random.next() % 1_000_000) / 7 - 50_000 }  // noise, negatives
        case 4: values = (0..<2_000).map { i in Double(i % 13) * (i > 1_800 ? 3 : 1) }
        default:
            for i in 0..<2_000 { values.append(exp(Double(random.next() % 1_000) / 100) + (i == 1_000 ? 1e6 : 0)) }
        }
        for warmup in [0, 30] {
            var packed = ContextualNovelty(warmup: warmup), reference = ReferenceAnomalyModel(warmup: warmup)
            for (i, v) in values.enumerated() {
                let a = packed.observe(v), b = reference.observe(v)
                let same = a.score == b.score && a.expected == b.expected && a.deviation == b.deviation && a.warmingUp == b.warmingUp
                #expect(same, "value \(i) of series \(seed)")
                if !same { return }
            }
        }
    }

    @Test("a model holds no array until it has seen a transition, then one of 79 words")
    func lazyBits() {
        var model = ContextualNovelty()
        _ = model.observe(1)
        #expect(model.footprint == 0, "one value: no (context, level) pair yet")
        _ = model.observe(2)
        #expect(model.footprint == 79)
    }
}

struct ReferenceAnomalyModel {
    /// Values a new model learns from before it scores (the `anomaly.warmup` default).
    static let resolutions = [4, 8]
    static let contextLengths = [1, 2, 3]
    /// Points after a strongly novel one during which the model stays silent.
    static let restPoints = 15
    static let restThreshold = 0.75
    static let zWeight = 0.2
    static let meanAlpha = 0.003

    private var low = 0.0
    private var high = 0.0
    /// The last three levels at each resolution, newest last (`-1`: none yet).
    private var history: [[Int]] = resolutions.map { _ in [] }
    /// Seen (context, level) pairs, one bitset per resolution.
    private var seen: [[UInt64]] = resolutions.map { levels in
        let bits = contextLengths.reduce(0) { $0 + Self.power(levels, $1 + 1) }
        return [UInt64](repeating: 0, count: (bits + 63) / 64)
    }
    /// Recent novelty, for the rest period.
    private var recent: [Double] = []
    private var mean = 0.0
    private var variance = 0.0
    private(set) var count = 0
    /// Values learnt, and scored 0, before scores count.
    let warmup: Int

    /// A model that scores 0 for its first `warmup` values.
    init(warmup: Int = 30) { self.warmup = max(0, warmup) }

    /// Scores `value` against the past, then learns it; 0 during the warm-up (the value is
    /// still learnt, so a model's scores after it do not depend on its warm-up length).
    mutating func observe(_ value: Double) -> ContextualNovelty.Assessment {
        let warming = count < warmup
        let expected = mean, deviation = variance.squareRoot()
        defer { learn(value) }
        if count == 0 {
            low = value
            high = value
        }
        let beyond = count > 0 && (value < low || value > high)
        low = min(low, value)
        high = max(high, value)
        let range = high - low
        var novel = 0.0, contexts = 0.0
        for (r, levels) in Self.resolutions.enumerated() {
            let level = range > 0 ? min(levels - 1, Int((value - low) / range * Double(levels))) : 0
            var offset = 0
            for k in Self.contextLengths {
                defer { offset += Self.power(levels, k + 1) }
                guard history[r].count >= k else { continue }
                var index = 0
                for previous in history[r].suffix(k) { index = index * levels + previous }
                index = offset + index * levels + level
                contexts += 1
                if seen[r][index >> 6] & (1 << UInt64(index & 63)) == 0 {
                    novel += 1
                    seen[r][index >> 6] |= 1 << UInt64(index & 63)
                }
            }
            history[r].append(level)
            if history[r].count > Self.contextLengths.last! { history[r].removeFirst() }
        }
        var novelty = contexts > 0 ? novel / contexts : 0
        if beyond { novelty = 1 }
        let scale = max(deviation, 1e-9 + 1e-6 * abs(expected))
        let z = count >= 10 ? abs(value - expected) / scale : 0
        var score = (1 - Self.zWeight) * novelty + Self.zWeight * z / (z + 4)
        if recent.contains(where: { $0 >= Self.restThreshold }) { score = 0 }
        recent.append(novelty)
        if recent.count > Self.restPoints { recent.removeFirst() }
        if warming { score = 0 }
        return ContextualNovelty.Assessment(score: score, expected: expected, deviation: deviation, warmingUp: warming)
    }

    private mutating func learn(_ value: Double) {
        count += 1
        if count == 1 {
            mean = value
            return
        }
        let d = value - mean
        mean += Self.meanAlpha * d
        variance = (1 - Self.meanAlpha) * (variance + Self.meanAlpha * d * d)
    }

    /// Elements held in the model's arrays: fixed for its whole life.
    var footprint: Int { history.reduce(0) { $0 + $1.count } + seen.reduce(0) { $0 + $1.count } + recent.count }

    static func power(_ base: Int, _ exponent: Int) -> Int {
        (0..<exponent).reduce(1) { r, _ in r * base }
    }
}
