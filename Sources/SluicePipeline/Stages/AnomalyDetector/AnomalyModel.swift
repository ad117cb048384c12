import SluiceModel

/// One series' anomaly model: three detectors that see different kinds of surprise, each
/// scored on the same 0…1 scale, and the highest score wins.
///
/// - **Novelty** (`ContextualNovelty`): a value whose level does not follow its recent levels
///   as it has before, or beyond every value seen. Halved when the value is unremarkable:
///   within two deviations of both the running mean and the seasonal prediction (novel, but
///   not far), or less than half as far from the running mean as the farthest of the last
///   100 values (an echo of a recent excursion, not a new one).
/// - **Seasonal** (`SeasonalBaseline`): a value far from the same phase of earlier periods,
///   for series with a strong period, as the residual's z-score.
/// - **Level shift**: the mean of the last 10 values far from the long-run mean, as a z-score
///   in standard errors.
///
/// Both z-scores are in deviations, so one map turns them into scores: z / (z + 7). They pass
/// only when higher than every one of their own in the last 100 values (`RecordGate`), so a
/// change that persists alerts once. The first `warmup` values are learnt but score 0. The
/// constants (`Tuning`) are chosen by leave-one-category-out cross-validation on the Numenta
/// Anomaly Benchmark (`Benchmarks/nab_cv.py --grid`).
///
/// Scoring is online: a value's score depends on the values before it alone, so a prefix of a
/// series scores exactly as it does inside the whole. Memory per model is bounded: the
/// novelty table (632 bytes, from the second value), the seasonal baseline's values (up to
/// 1,024: 8 KiB; the echo test reads the newest of them), the gates' queues (empty until
/// their detector scores; a handful of entries, at most 202 in all) and some 200 bytes of
/// numbers.
public struct AnomalyModel: Sendable, Hashable {
    /// Values a new model learns from before it scores (the `anomaly.warmup` default).
    public static let defaultWarmup = 30
    static let shiftValues = 10

    /// The constants that turn the detectors' statistics into one score. Models hold none of
    /// them (the same tuning serves every series); `standard` is the one cross-validation
    /// chooses (`Benchmarks/nab_cv.py --grid`: the low-false-positive profile's whole-subset
    /// choice), and the others exist to be compared with it.
    public struct Tuning: Sendable, Hashable {
        /// A novel value within this many deviations of both the running mean and the seasonal
        /// prediction is novel but not far: its novelty score is multiplied by `nearFactor`.
        public var near: Double
        public var nearFactor: Double
        /// A novel value less than `recentRatio` times as far from the running mean as the
        /// farthest of the `recentSpan` values before it echoes a recent excursion: its novelty
        /// score is multiplied by `nearFactor` too. 0 turns the test off; a span beyond
        /// `longestRecentSpan` (the values held before the newest) looks at those.
        public var recentRatio: Double
        public var recentSpan: Int
        /// The seasonal and level-shift z-scores, both in deviations, become scores as
        /// z / (z + scale): one scale, so that one z means one score whichever detector saw it.
        public var scale: Double
        /// A seasonal or level-shift score passes only above every one of its own in this many
        /// values before it.
        public var seasonalSpan: Int
        public var shiftSpan: Int

        public init(near: Double, nearFactor: Double, recentRatio: Double, recentSpan: Int, scale: Double, seasonalSpan: Int, shiftSpan: Int) {
            self.near = near
            self.nearFactor = nearFactor
            self.recentRatio = recentRatio
            self.recentSpan = recentSpan
            self.scale = scale
            self.seasonalSpan = seasonalSpan
            self.shiftSpan = shiftSpan
        }

        public static let standard = Tuning(near: 2, nearFactor: 0.5, recentRatio: 0.5, recentSpan: 100, scale: 7,
                                            seasonalSpan: 100, shiftSpan: 100)

        /// The longest `recentSpan`.
        public static let longestRecentSpan = SeasonalBaseline.capacity - 1
    }

    private var novelty = ContextualNovelty(warmup: 0)
    /// The seasonal and level-shift detectors: none until the second value (a series seen in
    /// one window only costs no more than its novelty detector), then one, held out of line.
    private var baselines: [Baselines] = []
    public private(set) var count = 0
    /// Values learnt, and scored 0, before scores count.
    public let warmup: Int

    /// A model that scores 0 for its first `warmup` values.
    public init(warmup: Int = AnomalyModel.defaultWarmup) { self.warmup = max(0, warmup) }

    /// Which detector gave a score.
    public enum Detector: String, Sendable, Hashable {
        case novelty
        case seasonal
        case levelShift = "level_shift"

        /// As a reason says it.
        public var label: String { self == .levelShift ? "level shift" : rawValue }
    }

    /// What the model made of one value.
    public struct Assessment: Sendable, Hashable {
        /// 0…1; higher is more anomalous.
        public var score: Double
        /// The value the winning detector expected, and its typical deviation.
        public var expected: Double
        public var deviation: Double
        /// Whether the value fell in the model's warm-up (its score is then 0).
        public var warmingUp = false
        /// The detector whose score this is.
        public var detector = Detector.novelty
    }

    /// Scores `value` against the past, then learns it; 0 during the warm-up (the value is
    /// still learnt, so a model's scores after it do not depend on its warm-up length).
    public mutating func observe(_ value: Double, tuning: Tuning = .standard) -> Assessment {
        let warming = count < warmup
        if count == 1 {
            // The first value, which the novelty detector alone has seen so far.
            var b = Baselines()
            _ = b.observe(novelty.onlyValue, expected: 0, deviation: 0, count: 0)
            baselines = [b]
        }
        let n = novelty.observe(value)
        var best = Assessment(score: n.score, expected: n.expected, deviation: n.deviation, detector: .novelty)
        var seasonalZ = 0.0
        if !baselines.isEmpty {
            let b = baselines[0].observe(value, expected: n.expected, deviation: n.deviation, count: count, tuning: tuning)
            seasonalZ = b.seasonal.z
            if best.score > 0, max(n.z, seasonalZ) < tuning.near || echoes(value, mean: n.expected, tuning: tuning) {
                best.score *= tuning.nearFactor
            }
            if b.seasonalScore > best.score {
                best = Assessment(score: b.seasonalScore, expected: b.seasonal.prediction, deviation: b.seasonal.spread, detector: .seasonal)
            }
            if b.shiftScore > best.score {
                best = Assessment(score: b.shiftScore, expected: n.expected, deviation: n.deviation, detector: .levelShift)
            }
        } else if n.z < tuning.near {
            best.score *= tuning.nearFactor
        }
        count += 1
        if warming {
            best.score = 0
            best.warmingUp = true
        }
        return best
    }

    /// Whether `value` (the newest the seasonal baseline holds) is less than `recentRatio` times
    /// as far from `mean` as the farthest of the `recentSpan` values before it.
    private func echoes(_ value: Double, mean: Double, tuning: Tuning) -> Bool {
        guard tuning.recentRatio > 0, let b = baselines.first else { return false }
        return abs(value - mean) < tuning.recentRatio * b.seasonal.farthest(from: mean, within: tuning.recentSpan)
    }

    /// The seasonal and level-shift detectors with their record gates.
    struct Baselines: Sendable, Hashable {
        var seasonal = SeasonalBaseline()
        var seasonalGate = RecordGate()
        var shiftGate = RecordGate()
        /// The sum of the last `shiftValues` values (the values themselves are the seasonal
        /// baseline's newest).
        var recentSum = 0.0

        /// `expected` and `deviation` are the running mean and deviation before `value`;
        /// `count` the values seen before it.
        mutating func observe(_ value: Double, expected: Double, deviation: Double, count: Int, tuning: Tuning = .standard)
            -> (seasonal: SeasonalBaseline.Reading, seasonalScore: Double, shiftScore: Double) {
            let s = seasonal.observe(value, mean: expected)
            // Level shift: the mean of the last values, in standard errors from the long-run mean.
            recentSum += value - (count >= shiftValues ? seasonal.value(back: shiftValues) : 0)
            let k = Double(min(count + 1, shiftValues))
            let scale = max(deviation, 1e-9 + 1e-6 * abs(expected))
            let shiftZ = count >= shiftValues ? abs(recentSum / k - expected) / scale * k.squareRoot() : 0
            let seasonalScore = seasonalGate.pass(s.strength >= SeasonalBaseline.strongPeriod ? s.z / (s.z + tuning.scale) : 0,
                                                  span: tuning.seasonalSpan)
            let shiftScore = shiftGate.pass(shiftZ / (shiftZ + tuning.scale), span: tuning.shiftSpan)
            return (s, seasonalScore, shiftScore)
        }

        private var shiftValues: Int { AnomalyModel.shiftValues }
    }

    /// Bytes the model holds beyond its inline fields: none at first, then growing with the
    /// series to a fixed bound.
    var footprint: Int { novelty.footprint * 8 + (baselines.first?.seasonal.footprint ?? 0) }
}

extension AnomalyModel {
    /// The whole state, for the detector's checkpoint: a model read back scores every later
    /// value exactly as the one written would have.
    public func encode(into w: inout BinaryWriter) {
        w.varint(warmup)
        w.varint(count)
        novelty.encode(into: &w)
        if let b = baselines.first {
            b.seasonal.encode(into: &w)
            b.seasonalGate.encode(into: &w)
            b.shiftGate.encode(into: &w)
            w.f64(b.recentSum)
        }
    }

    /// Reads what `encode(into:)` wrote, under any `Tuning`; throws on anything a model could
    /// not hold.
    public init(decoding r: inout BinaryReader) throws(BinaryDecodingError) {
        let warmup = try r.varint(), count = try r.varint()
        guard warmup <= UInt64(Int32.max), count <= UInt64(Int.max / 2) else { throw .malformed("a model's warm-up or count is out of range") }
        self.init(warmup: Int(warmup))
        self.count = Int(count)
        novelty = try ContextualNovelty(decoding: &r)
        guard novelty.count == self.count else { throw .malformed("a model's detectors disagree on how many values they have seen") }
        // From the second value on, the seasonal and level-shift detectors follow.
        guard self.count >= 2 else { return }
        var b = Baselines()
        b.seasonal = try SeasonalBaseline(decoding: &r)
        b.seasonalGate = try RecordGate(decoding: &r)
        b.shiftGate = try RecordGate(decoding: &r)
        b.recentSum = try r.f64()
        guard b.seasonal.count == self.count else { throw .malformed("a model's detectors disagree on how many values they have seen") }
        baselines = [b]
    }
}
