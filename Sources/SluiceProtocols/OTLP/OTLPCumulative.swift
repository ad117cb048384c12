/// Cumulative points to deltas: the pure rules, kept apart from the state that remembers
/// each stream's previous point.
///
/// A cumulative point counts everything since its start time. Against the previous point of
/// the same stream it becomes the delta between the two. Anything that cannot continue the
/// previous point is a reset, and the point is counted whole, as Prometheus' `increase`
/// counts a counter after a restart:
/// - a changed start time (the process restarted),
/// - a count or bucket that went down,
/// - a changed bucket layout.
///
/// The first point of a stream has no previous point. It is counted whole when it started
/// at or after the decoder did, since everything it counts happened while Sluice was
/// listening; otherwise it is kept only as the reference for the next one. (The Collector's
/// `cumulativetodelta` processor calls this its `auto` initial value.) A point no newer than
/// the previous one is a resent or reordered export and changes nothing.
enum OTLPCumulative {
    enum Value: Sendable, Equatable {
        /// A monotonic sum (a counter).
        case sum(OTLP.Number)
        case explicit(OTLP.ExplicitHistogram)
        case exponential(OTLP.ExponentialHistogram)
    }

    struct Point: Sendable, Equatable {
        var start: UInt64
        var time: UInt64
        var value: Value
    }

    enum Outcome: Sendable, Equatable {
        /// Count the point as it is (a first point or a reset).
        case whole
        /// Count this delta instead; a histogram's says which of its extremes are exact.
        case delta(Value, OTLPDistribution.Extremes?)
        /// A first point from before the decoder started: remembered, not counted.
        case reference
        /// Not newer than the previous point: ignored, and not remembered.
        case stale
    }

    static func outcome(of current: Point, after previous: Point?, decoderStart: UInt64) -> Outcome {
        guard let previous else {
            return current.start != 0 && current.start >= decoderStart ? .whole : .reference
        }
        if current.time <= previous.time { return .stale }
        if current.start != previous.start { return .whole }
        switch (current.value, previous.value) {
        case (.sum(let now), .sum(let before)):
            return difference(now, before).map { .delta(.sum($0), nil) } ?? .whole
        case (.explicit(let now), .explicit(let before)):
            let extremes = deltaExtremes(now: (now.min, now.max), before: (before.min, before.max))
            return difference(now, before).map { .delta(.explicit($0), extremes) } ?? .whole
        case (.exponential(let now), .exponential(let before)):
            let extremes = deltaExtremes(now: (now.min, now.max), before: (before.min, before.max))
            return difference(now, before).map { .delta(.exponential($0), extremes) } ?? .whole
        default:
            return .whole
        }
    }

    /// A counter's increase, or `nil` when it went down.
    static func difference(_ now: OTLP.Number, _ before: OTLP.Number) -> OTLP.Number? {
        switch (now, before) {
        case (.int(let a), .int(let b)):
            let (d, overflow) = a.subtractingReportingOverflow(b)
            return overflow || d < 0 ? nil : .int(d)
        default:
            guard let a = now.double, let b = before.double, a >= b else { return nil }
            return .double(a - b)
        }
    }

    static func difference(_ now: OTLP.ExplicitHistogram, _ before: OTLP.ExplicitHistogram) -> OTLP.ExplicitHistogram? {
        guard now.bounds == before.bounds, now.counts.count == before.counts.count, now.count >= before.count else { return nil }
        var counts = now.counts
        for k in counts.indices {
            guard counts[k] >= before.counts[k] else { return nil }
            counts[k] -= before.counts[k]
        }
        // The current point's cumulative extremes bound every sample of the delta.
        return OTLP.ExplicitHistogram(count: now.count - before.count, sum: now.sum - before.sum, min: now.min, max: now.max,
                                      bounds: now.bounds, counts: counts)
    }

    static func difference(_ now: OTLP.ExponentialHistogram, _ before: OTLP.ExponentialHistogram) -> OTLP.ExponentialHistogram? {
        // An SDK lowers the scale as the range grows; the earlier buckets merge into the new ones.
        guard now.scale <= before.scale, now.zeroThreshold == before.zeroThreshold,
              now.count >= before.count, now.zeroCount >= before.zeroCount else { return nil }
        let shift = Int(before.scale - now.scale)
        guard let positive = subtract(now.positive, downscaled(before.positive, by: shift)),
              let negative = subtract(now.negative, downscaled(before.negative, by: shift)) else { return nil }
        return OTLP.ExponentialHistogram(count: now.count - before.count, sum: now.sum - before.sum, min: now.min, max: now.max,
                                         scale: now.scale, zeroThreshold: now.zeroThreshold, zeroCount: now.zeroCount - before.zeroCount,
                                         positive: positive, negative: negative)
    }

    /// What is known of a delta's extremes: a cumulative minimum that went down was reached in
    /// this interval, so it is this interval's exact minimum; one that did not move only
    /// bounds it (likewise the maximum).
    static func deltaExtremes(now: (min: Double?, max: Double?), before: (min: Double?, max: Double?)) -> OTLPDistribution.Extremes {
        let minIsExact = if let a = now.min, let b = before.min { a < b } else { false }
        let maxIsExact = if let a = now.max, let b = before.max { a > b } else { false }
        return OTLPDistribution.Extremes(min: now.min, max: now.max, minIsExact: minIsExact, maxIsExact: maxIsExact)
    }

    /// Buckets at scale s, merged into scale s − shift: bucket i becomes ⌊i / 2^shift⌋.
    static func downscaled(_ buckets: OTLP.Buckets, by shift: Int) -> OTLP.Buckets {
        guard shift > 0, !buckets.counts.isEmpty else { return buckets }
        let first = Int(buckets.offset) >> shift
        let last = (Int(buckets.offset) + buckets.counts.count - 1) >> shift
        var counts = [UInt64](repeating: 0, count: last - first + 1)
        for (k, c) in buckets.counts.enumerated() {
            counts[((Int(buckets.offset) + k) >> shift) - first] &+= c
        }
        return OTLP.Buckets(offset: Int32(first), counts: counts)
    }

    /// `now − before` bucket by bucket at the same scale, or `nil` when a bucket went down.
    static func subtract(_ now: OTLP.Buckets, _ before: OTLP.Buckets) -> OTLP.Buckets? {
        var counts = now.counts
        for (k, c) in before.counts.enumerated() where c > 0 {
            let i = Int(before.offset) + k - Int(now.offset)
            guard i >= 0, i < counts.count, counts[i] >= c else { return nil }
            counts[i] -= c
        }
        return OTLP.Buckets(offset: now.offset, counts: counts)
    }
}

extension OTLPCumulative.Value {
    /// A histogram's own extremes (none for a sum).
    var minimum: Double? {
        switch self {
        case .sum: nil
        case .explicit(let h): h.min
        case .exponential(let h): h.min
        }
    }

    var maximum: Double? {
        switch self {
        case .sum: nil
        case .explicit(let h): h.max
        case .exponential(let h): h.max
        }
    }
}

extension OTLP.Number {
    var double: Double? {
        switch self {
        case .none: nil
        case .double(let x): x
        case .int(let n): Double(n)
        }
    }
}
