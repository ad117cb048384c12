import SluiceModel

/// The seasonal detector, one of `AnomalyModel`'s three: what a value should be from the same
/// phase of earlier periods, with the period found in the series itself.
///
/// It keeps the last 1,024 values. Every 32 values it looks for the period: the highest local
/// peak of the autocorrelation over lags 4 to a third of the values held (so a daily cycle of
/// 5-minute windows, 288, is found once 864 are held). The prediction is the median of the
/// values one, two and three periods back, or the running mean while there is no period; the
/// residual is scaled by its own running mean absolute size. A series without a strong period
/// (autocorrelation under 0.6) gets no seasonal score at all.
///
/// Memory is fixed: the 1,024 values (8 KiB, grown as they come) and a few numbers.
struct SeasonalBaseline: Sendable, Hashable {
    static let capacity = 1_024
    /// Values between period searches.
    static let searchEvery = 32
    static let minimumLag = 4
    /// A peak must reach this autocorrelation to be a period at all…
    static let peakMinimum = 0.3
    /// …and this one for the seasonal score to count.
    static let strongPeriod = 0.6
    /// The weight of each new residual in the running mean absolute residual.
    static let madAlpha = 0.01

    /// The last `capacity` values, the oldest overwritten first (value n at n % capacity).
    private var ring: [Double] = []
    private(set) var count = 0
    /// The period in use (0: none) and its autocorrelation.
    private(set) var period = 0
    private(set) var strength = 0.0
    private var mad = 0.0
    private var residuals = 0

    /// What a value made of the seasonal baseline.
    struct Reading {
        var prediction: Double
        /// The typical residual (mean absolute, scaled to a standard deviation's size).
        var spread: Double
        /// |residual| / spread; 0 until ten residuals are known.
        var z: Double
        /// The autocorrelation of the period the prediction used (0 without one).
        var strength: Double
    }

    /// The value's residual against the seasonal prediction, then learns it. `mean` is the
    /// series' running mean before this value (the prediction while there is no period).
    mutating func observe(_ value: Double, mean: Double) -> Reading {
        let n = count
        var prediction = mean
        if period > 0, n >= period {
            var past: (Double, Double, Double) = (0, 0, 0)
            var held = 0
            for k in 1...3 where n - k * period >= 0 && k * period <= Self.capacity {
                let v = ring[(n - k * period) % Self.capacity]
                switch held {
                case 0: past.0 = v
                case 1: past.1 = v
                default: past.2 = v
                }
                held += 1
            }
            prediction = Self.median(past, held)
        }
        let residual = abs(value - prediction)
        let spread = 1.2533 * mad
        let z = residuals >= 10 ? residual / (spread + 1e-9 + 1e-6 * abs(mean)) : 0
        let reading = Reading(prediction: prediction, spread: spread, z: z, strength: strength)
        if ring.count < Self.capacity { ring.append(value) } else { ring[n % Self.capacity] = value }
        count += 1
        if n > 0 {
            mad = residuals == 0 ? residual : mad + Self.madAlpha * (residual - mad)
            residuals += 1
        }
        if count % Self.searchEvery == 0 { findPeriod() }
        return reading
    }

    private static func median(_ v: (Double, Double, Double), _ held: Int) -> Double {
        switch held {
        case 1: return v.0
        case 2: return (v.0 + v.1) / 2
        default: return max(min(v.0, v.1), min(max(v.0, v.1), v.2))
        }
    }

    /// The lag of the highest local autocorrelation peak over `peakMinimum` among lags
    /// `minimumLag` to a third of the values held; 0 when there is none.
    private mutating func findPeriod() {
        let held = min(count, Self.capacity)
        let maximumLag = held / 3
        period = 0
        strength = 0
        guard held >= 6 * Self.minimumLag, maximumLag > Self.minimumLag else { return }
        // Oldest first, less their mean.
        let oldest = count - held
        var x = [Double](repeating: 0, count: held)
        var sum = 0.0
        for t in 0..<held {
            x[t] = ring[(oldest + t) % Self.capacity]
            sum += x[t]
        }
        let mean = sum / Double(held)
        var energy = 0.0
        for t in 0..<held {
            x[t] -= mean
            energy += x[t] * x[t]
        }
        guard energy > 0 else { return }
        x.withUnsafeBufferPointer { x in
            // Four running sums, so the products pipeline (and vectorise) instead of queueing
            // on one addition each.
            func correlation(_ lag: Int) -> Double {
                let n = held - lag
                var s = SIMD4<Double>()
                var t = 0
                while t + 4 <= n {
                    let a = SIMD4<Double>(x[t], x[t + 1], x[t + 2], x[t + 3])
                    let b = SIMD4<Double>(x[t + lag], x[t + lag + 1], x[t + lag + 2], x[t + lag + 3])
                    s += a * b
                    t += 4
                }
                var sum = s.sum()
                while t < n {
                    sum += x[t] * x[t + lag]
                    t += 1
                }
                return sum / energy
            }
            var best = Self.peakMinimum
            var previous = correlation(Self.minimumLag - 1), current = correlation(Self.minimumLag)
            for lag in Self.minimumLag...maximumLag {
                let next = correlation(lag + 1)
                if current > previous, current >= next, current > best {
                    best = current
                    period = lag
                }
                (previous, current) = (current, next)
            }
            if period > 0 { strength = best }
        }
    }

    /// The value `back` values before the newest (0: the newest); `back` below `capacity` and
    /// below `count`.
    func value(back: Int) -> Double { ring[(count - 1 - back) % Self.capacity] }

    /// The largest distance from `center` among the `span` values before the newest (fewer
    /// while fewer are held); 0 when there are none.
    func farthest(from center: Double, within span: Int) -> Double {
        let k = min(span, count - 1, Self.capacity - 1)
        guard k > 0 else { return 0 }
        var far = 0.0
        for back in 1...k { far = max(far, abs(value(back: back) - center)) }
        return far
    }

    /// Bytes of values held.
    var footprint: Int { ring.count * 8 }

    func encode(into w: inout BinaryWriter) {
        w.varint(count)
        w.varint(period)
        w.f64(strength)
        w.f64(mad)
        w.varint(residuals)
        w.varint(ring.count)
        w.f64s(ring)
    }

    init() {}

    init(decoding r: inout BinaryReader) throws(BinaryDecodingError) {
        let count = try r.varint(), period = try r.varint()
        strength = try r.f64()
        mad = try r.f64()
        let residuals = try r.varint()
        let held = try r.count(minimumSize: 8, maximum: Self.capacity)
        guard count <= UInt64(Int.max / 2), held == min(Int(count), Self.capacity), period <= UInt64(held),
              residuals <= count else {
            throw .malformed("a seasonal baseline has an impossible shape")
        }
        self.count = Int(count)
        self.period = Int(period)
        self.residuals = Int(residuals)
        ring.reserveCapacity(held)
        for _ in 0..<held { ring.append(try r.f64()) }
    }
}

/// Lets a score through only when it is higher than every score of the last `span` values:
/// a detector that stays high after a change reports the change once. A monotone queue, so it
/// holds at most `span` + 1 entries and usually a handful. Scores of 0 are never held (they
/// could hold back only scores of 0), so a detector that has not scored holds nothing.
struct RecordGate: Sendable, Hashable {
    /// (index, score), scores strictly decreasing from the front; `head` is the first live one.
    private var entries: [Entry] = []
    private var head = 0
    private var index = 0

    struct Entry: Sendable, Hashable {
        var index: Int
        var score: Double
    }

    init() {}

    mutating func pass(_ score: Double, span: Int) -> Double {
        defer { index += 1 }
        while head < entries.count, entries[head].index < index - span { head += 1 }
        guard score > 0 else { return 0 }
        let record = head < entries.count ? entries[head].score : 0
        while entries.count > head, entries[entries.count - 1].score <= score { entries.removeLast() }
        if head > 32, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        entries.append(Entry(index: index, score: score))
        return score > record ? score : 0
    }

    func encode(into w: inout BinaryWriter) {
        w.varint(index)
        w.varint(entries.count - head)
        for e in entries[head...] {
            w.varint(e.index)
            w.f64(e.score)
        }
    }

    /// Reads what `encode(into:)` wrote, whatever span the gate had: the entries are the
    /// scores above all later ones, the same under any span, and the next `pass` drops those
    /// older than its span. So a checkpoint taken under other spans loses nothing.
    init(decoding r: inout BinaryReader) throws(BinaryDecodingError) {
        let index = try r.varint()
        guard index <= UInt64(Int.max / 2) else { throw .malformed("a record gate's index is out of range") }
        self.index = Int(index)
        // Each entry has an index of its own below the gate's.
        for _ in 0..<(try r.count(minimumSize: 9, maximum: Int(index))) {
            let i = try r.varint()
            guard i < index else { throw .malformed("a record gate holds a score from its future") }
            entries.append(Entry(index: Int(i), score: try r.f64()))
        }
    }
}
