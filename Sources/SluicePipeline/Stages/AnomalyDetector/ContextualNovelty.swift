import SluiceModel

/// The contextual novelty detector, one of `AnomalyModel`'s three: how novel each new value
/// is, from the series' past alone.
///
/// It is contextual novelty (after Numenta's CAD OSE detector): values are cut into 4
/// and into 8 levels across the range seen so far, and the model remembers which level
/// followed which sequence of the last one, two and three levels. A value whose transition
/// has never been seen, at several resolutions and context lengths, is novel; one beyond
/// every value seen so far is novel outright. Novelty is blended with a Gaussian z-score
/// against an exponentially weighted mean, which orders the many equally novel points, and
/// a rest period keeps one anomaly from firing again on every point that follows it.
///
/// A model warms up first: the first `warmup` values are learnt but score 0, since with so
/// little past nearly every value is novel.
///
/// Memory is fixed and small: the contexts of 4 levels and 8 levels up to length three fit
/// in 5,008 bits (79 words, one array made at the second value); the rest is inline, and
/// nothing grows with the series' length.
public struct ContextualNovelty: Sendable, Hashable {
    /// Values a new model learns from before it scores (the `anomaly.warmup` default).
    public static let defaultWarmup = 30
    static let resolutions = [4, 8]
    static let contextLengths = [1, 2, 3]
    /// Points after a strongly novel one during which the model stays silent.
    static let restPoints = 15
    static let restThreshold = 0.75
    static let zWeight = 0.2
    static let meanAlpha = 0.003

    private var low = 0.0
    private var high = 0.0
    /// The last three levels at the 4-level and the 8-level resolution, newest in the lowest
    /// byte; how many are held (up to three) in `historyCount`.
    private var coarseHistory: UInt32 = 0
    private var fineHistory: UInt32 = 0
    private var historyCount: UInt8 = 0
    /// Seen (context, level) pairs: the 4-level contexts' bits, then the 8-level ones'.
    /// Empty until the first pair is seen (a new series' first window sets none), then fixed.
    private var seen: [UInt64] = []
    /// The observation number of the latest strongly novel value (for the rest period).
    private var lastStrong = Int.min / 2
    private var mean = 0.0
    private var variance = 0.0
    public private(set) var count = 0
    /// Values learnt, and scored 0, before scores count.
    public let warmup: Int

    /// Words of `seen`, and where each resolution's bits start in it.
    static let seenLayout: (words: Int, starts: [Int]) = {
        var starts: [Int] = []
        var bits = 0
        for levels in resolutions {
            starts.append(bits)
            bits += contextLengths.reduce(0) { $0 + power(levels, $1 + 1) }
        }
        return ((bits + 63) / 64, starts)
    }()

    /// A model that scores 0 for its first `warmup` values.
    public init(warmup: Int = ContextualNovelty.defaultWarmup) { self.warmup = max(0, warmup) }

    /// What the model made of one value.
    public struct Assessment: Sendable, Hashable {
        /// 0…1; higher is more anomalous.
        public var score: Double
        /// The value the model expected (its running mean) and the typical deviation.
        public var expected: Double
        public var deviation: Double
        /// Whether the value fell in the model's warm-up (its score is then 0).
        public var warmingUp = false
        /// How many deviations the value lies from the running mean (0 for the first ten).
        public var z = 0.0
    }

    /// Scores `value` against the past, then learns it; 0 during the warm-up (the value is
    /// still learnt, so a model's scores after it do not depend on its warm-up length).
    public mutating func observe(_ value: Double) -> Assessment {
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
        let held = Int(historyCount)
        for (r, levels) in Self.resolutions.enumerated() {
            let level = range > 0 ? min(levels - 1, Int((value - low) / range * Double(levels))) : 0
            let past = r == 0 ? coarseHistory : fineHistory
            var offset = Self.seenLayout.starts[r]
            for k in Self.contextLengths {
                defer { offset += Self.power(levels, k + 1) }
                guard held >= k else { continue }
                // The last k levels, oldest first.
                var index = 0
                for j in stride(from: k - 1, through: 0, by: -1) { index = index * levels + Int((past >> UInt32(8 * j)) & 0xFF) }
                index = offset + index * levels + level
                contexts += 1
                if seen.isEmpty { seen = [UInt64](repeating: 0, count: Self.seenLayout.words) }
                if seen[index >> 6] & (1 << UInt64(index & 63)) == 0 {
                    novel += 1
                    seen[index >> 6] |= 1 << UInt64(index & 63)
                }
            }
            let kept = ((past << 8) | UInt32(level)) & 0x00FF_FFFF
            if r == 0 { coarseHistory = kept } else { fineHistory = kept }
        }
        historyCount = UInt8(min(held + 1, Self.contextLengths.last!))
        var novelty = contexts > 0 ? novel / contexts : 0
        if beyond { novelty = 1 }
        let scale = max(deviation, 1e-9 + 1e-6 * abs(expected))
        let z = count >= 10 ? abs(value - expected) / scale : 0
        var score = (1 - Self.zWeight) * novelty + Self.zWeight * z / (z + 4)
        // Silent while a strongly novel value is among the last `restPoints`.
        if count - lastStrong <= Self.restPoints { score = 0 }
        if novelty >= Self.restThreshold { lastStrong = count }
        if warming { score = 0 }
        return Assessment(score: score, expected: expected, deviation: deviation, warmingUp: warming, z: z)
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

    /// The one value seen, when exactly one has been (it is both ends of the range).
    var onlyValue: Double { low }

    /// Words held in the model's one array: none until it has seen a transition, then fixed
    /// for its whole life.
    var footprint: Int { seen.count }

    static func power(_ base: Int, _ exponent: Int) -> Int {
        (0..<exponent).reduce(1) { r, _ in r * base }
    }
}

extension ContextualNovelty {
    /// The whole state, for the detector's checkpoint.
    public func encode(into w: inout BinaryWriter) {
        w.varint(warmup)
        w.varint(count)
        w.f64(low)
        w.f64(high)
        w.u32(coarseHistory)
        w.u32(fineHistory)
        w.u8(historyCount)
        w.signed(Int64(lastStrong))
        w.f64(mean)
        w.f64(variance)
        w.varint(seen.count)
        w.u64s(seen)
    }

    /// Reads what `encode(into:)` wrote; throws on anything a model could not hold.
    public init(decoding r: inout BinaryReader) throws(BinaryDecodingError) {
        let warmup = try r.varint(), count = try r.varint()
        guard warmup <= UInt64(Int32.max), count <= UInt64(Int.max / 2) else { throw .malformed("a model's warm-up or count is out of range") }
        self.init(warmup: Int(warmup))
        self.count = Int(count)
        low = try r.f64()
        high = try r.f64()
        coarseHistory = try r.u32()
        fineHistory = try r.u32()
        historyCount = try r.u8()
        let lastStrong = try r.signed()
        mean = try r.f64()
        variance = try r.f64()
        let words = try r.count(minimumSize: 8, maximum: Self.seenLayout.words)
        guard words == 0 || words == Self.seenLayout.words, historyCount <= 3,
              lastStrong >= Int64(Int.min / 2), lastStrong <= Int64(count) else {
            throw .malformed("a model's history or novelty table has an impossible shape")
        }
        self.lastStrong = Int(lastStrong)
        seen = []
        for _ in 0..<words { seen.append(try r.u64()) }
    }
}
