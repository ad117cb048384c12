import SluiceModel

/// Histogram buckets as a `Distribution`: count and sum exact, each bucket's samples placed in
/// a `DDSketch` at one representative value.
///
/// The representative of a bucket whose samples lie in [a, b] (0 < a ≤ b) is their harmonic
/// mean 2ab/(a + b): the value with the smallest worst-case relative error, (b − a)/(b + a),
/// for any sample in the bucket (DDSketch places its own bins the same way). Buckets are first
/// clamped to the point's [min, max], which makes the outermost ones narrower, and a bucket
/// that holds one sample value (min = max) exact. A bucket that reaches zero or infinity has
/// no relative bound: its error is stated as infinite. `bucketError` is the largest error of
/// any bucket that holds samples, so a percentile read from the window is within
/// (1 + bucketError)(1 + α) − 1 of the true sample of that rank (α: the sketch's accuracy).
enum OTLPDistribution {
    /// What is known of a point's extremes. `min`/`max` bound every sample; `exact` says the
    /// sample set (this interval's) really reaches it, so the window may report it as is.
    struct Extremes: Sendable, Equatable {
        var min: Double?
        var max: Double?
        var minIsExact: Bool
        var maxIsExact: Bool

        /// A point's own `min`/`max`: exact whenever present.
        init(min: Double?, max: Double?) {
            self.init(min: min, max: max, minIsExact: min != nil, maxIsExact: max != nil)
        }

        init(min: Double?, max: Double?, minIsExact: Bool, maxIsExact: Bool) {
            (self.min, self.max, self.minIsExact, self.maxIsExact) = (min, max, minIsExact, maxIsExact)
        }
    }

    static func make(_ ranges: [OTLPBucketRange], count: UInt64, sum: Double, extremes: Extremes) -> Distribution {
        var sketch = DDSketch()
        var error = 0.0
        var lowest: Double?
        var highest = -Double.infinity
        let mean = count > 0 ? sum / Double(count) : 0
        for range in ranges where range.count > 0 {
            var a = range.lower, b = range.upper
            if let min = extremes.min { a = Swift.max(a, min); b = Swift.max(b, min) }
            if let max = extremes.max { a = Swift.min(a, max); b = Swift.min(b, max) }
            let (value, bucketError) = representative(a, b, mean: mean)
            sketch.add(value, count: range.count)
            error = Swift.max(error, bucketError)
            if lowest == nil { lowest = a }
            highest = b
        }
        // Without exact extremes the window shows the edges of the outermost buckets that held
        // samples (clamped to what is known), which bound the true ones.
        sketch.settingExtremes(min: extremes.minIsExact ? extremes.min : lowest, max: extremes.maxIsExact ? extremes.max : highest)
        return Distribution(sketch: sketch, sum: sum, bucketError: error)
    }

    /// The value that stands for a bucket's samples in [a, b], and its worst relative error.
    static func representative(_ a: Double, _ b: Double, mean: Double) -> (value: Double, error: Double) {
        if a == b { return (a, 0) }
        switch (a.isFinite, b.isFinite) {
        case (false, false): return (mean, .infinity)
        case (false, true): return (b, .infinity)
        case (true, false): return (a, .infinity)
        case (true, true): break
        }
        if a > 0 { return (2 / (1 / a + 1 / b), (b - a) / (b + a)) }
        if b < 0 { return (-2 / (1 / -a + 1 / -b), (b - a) / (-a - b)) }
        // The bucket reaches zero: any placement is infinitely wrong for a sample near it.
        return ((a + b) / 2, .infinity)
    }
}
