#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mergeable quantile sketch with relative-error guarantees (DDSketch, Masson et al., VLDB 2019).
///
/// Values fall into logarithmic bins whose width is set by the relative accuracy α: any quantile
/// it answers is within α of the true sample value of that rank. Two sketches merge by adding
/// their bins, exactly, so rolling windows built from panes are as accurate as one big sketch.
/// Count, minimum and maximum are kept exactly; estimates are clamped to them.
public struct DDSketch: Sendable, Hashable {
    /// The relative accuracy design §3 asks for.
    public static let relativeAccuracy = 0.01
    @usableFromInline static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    @usableFromInline static let inverseLogGamma = 1 / log(gamma)
    /// Magnitudes below this count as zero (they would need bins far below any real metric).
    @usableFromInline static let minimumIndexable = 1e-9

    @usableFromInline var positive = BinStore()
    @usableFromInline var negative = BinStore()
    @usableFromInline var zeroCount: UInt64 = 0
    @usableFromInline var storedCount: UInt64 = 0
    @usableFromInline var storedMin: Double = .infinity
    @usableFromInline var storedMax: Double = -.infinity

    /// Values added, exactly.
    public var count: UInt64 { storedCount }
    /// The smallest value added, exactly (+∞ when empty).
    public var min: Double { storedMin }
    /// The largest value added, exactly (−∞ when empty).
    public var max: Double { storedMax }

    public init() {}

    public var isEmpty: Bool { count == 0 }

    @inlinable
    static func index(_ magnitude: Double) -> Int {
        Int((log(magnitude) * inverseLogGamma).rounded(.up))
    }

    @inlinable
    /// The representative value of bin `index`: 2γ^i/(γ+1). Computed with multiplications
    /// only (exponentiation by squaring), never `pow`, so that it is the same double on every
    /// machine: the store keeps percentiles as bin numbers and relies on it.
    public static func value(_ index: Int) -> Double {
        var result = 1.0
        var base = index < 0 ? 1 / gamma : gamma
        var n = index.magnitude
        while n > 0 {
            if n & 1 == 1 { result *= base }
            base *= base
            n >>= 1
        }
        return 2 * result / (gamma + 1)
    }

    /// The bin whose representative value is nearest to a positive `value` (the inverse of
    /// `value(_:)` for the store's percentile columns).
    public static func nearestIndex(_ value: Double) -> Int? {
        guard value > 0, value.isFinite else { return nil }
        let i = Int((log(value * (gamma + 1) / 2) * inverseLogGamma).rounded())
        return i
    }

    /// Where a value is counted: a bin of the positive or of the negative values, or zero.
    /// Found once (it takes a logarithm), it serves both to prefetch and to add.
    @frozen
    public struct Bin: Sendable {
        /// 1 for a positive value, -1 for a negative one, 0 for one that counts as zero.
        @usableFromInline let sign: Int8
        /// The bin's index among the values of that sign (0 for zero).
        @usableFromInline let index: Int

        /// The bin a finite `value` is counted in.
        @inlinable
        public init(_ value: Double) {
            if value > DDSketch.minimumIndexable {
                (sign, index) = (1, DDSketch.index(value))
            } else if value < -DDSketch.minimumIndexable {
                (sign, index) = (-1, DDSketch.index(-value))
            } else {
                (sign, index) = (0, 0)
            }
        }
    }

    /// Adds one finite value.
    @inlinable
    public mutating func add(_ value: Double) {
        add(value, in: Bin(value))
    }

    /// Adds one finite value whose bin is known (`Bin(value)`). Always inlined: the window
    /// aggregator adds every sample through it.
    @inlinable @inline(__always)
    public mutating func add(_ value: Double, in bin: Bin) {
        assert({ let b = Bin(value); return b.sign == bin.sign && b.index == bin.index }(), "the bin of another value")
        storedCount += 1
        if value < storedMin { storedMin = value }
        if value > storedMax { storedMax = value }
        switch bin.sign {
        case 1: positive.add(bin.index, count: 1)
        case -1: negative.add(bin.index, count: 1)
        default: zeroCount += 1
        }
    }

    /// Where the count of `bin` lies in memory, for a prefetch hint only: never read through
    /// it, and it is stale once the sketch changes. `nil` when the bin is outside the range.
    ///
    /// A window holds a sketch per series, too many bins for a core's cache, so each add would
    /// otherwise wait on memory; the window aggregator asks for a few records' bins before it
    /// adds them, and the fetches overlap.
    @inlinable @inline(__always)
    public func countAddress(of bin: Bin) -> UnsafeRawPointer? {
        switch bin.sign {
        case 1: positive.countAddress(bin.index)
        case -1: negative.countAddress(bin.index)
        default: nil
        }
    }

    /// Adds `count` copies of one finite value: a histogram bucket placed at its representative
    /// value. Min and max follow the value; `settingExtremes` then puts the exact ones in.
    public mutating func add(_ value: Double, count: UInt64) {
        guard count > 0 else { return }
        storedCount += count
        if value < storedMin { storedMin = value }
        if value > storedMax { storedMax = value }
        if value > Self.minimumIndexable {
            positive.add(Self.index(value), count: count)
        } else if value < -Self.minimumIndexable {
            negative.add(Self.index(-value), count: count)
        } else {
            zeroCount += count
        }
    }

    /// Replaces the minimum and maximum with exact ones known from elsewhere (a histogram
    /// point's `min` and `max`); estimates are clamped to them.
    public mutating func settingExtremes(min: Double?, max: Double?) {
        guard count > 0 else { return }
        if let min, min.isFinite { storedMin = min }
        if let max, max.isFinite { storedMax = max }
    }

    /// Adds every value of `other`: the result is the sketch of both inputs together.
    public mutating func merge(_ other: DDSketch) {
        guard !other.isEmpty else { return }
        storedCount += other.storedCount
        zeroCount += other.zeroCount
        storedMin = Swift.min(storedMin, other.storedMin)
        storedMax = Swift.max(storedMax, other.storedMax)
        positive.merge(other.positive)
        negative.merge(other.negative)
    }

    /// The estimated value at quantile `q` (0…1): within α of the nearest-rank sample, the
    /// ⌈q·n⌉-th smallest of the n values added. `nil` when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        if q <= 0 { return min }
        if q >= 1 { return max }
        // Zero-based index of the nearest-rank sample.
        // (The epsilon keeps 0.9 × 10 from rounding up past 9 through binary noise.)
        let rank = Swift.max(0, (q * Double(count) - 1e-9).rounded(.up) - 1)
        var seen: Double = 0
        var estimate: Double?
        // Negative values, largest magnitude (smallest value) first.
        if !negative.isEmpty {
            estimate = negative.firstBin(descending: true) { index, count in
                seen += Double(count)
                return seen > rank ? -Self.value(index) : nil
            }
        }
        if estimate == nil {
            seen += Double(zeroCount)
            if seen > rank { estimate = 0 }
        }
        if estimate == nil {
            estimate = positive.firstBin(descending: false) { index, count in
                seen += Double(count)
                return seen > rank ? Self.value(index) : nil
            }
        }
        return Swift.min(Swift.max(estimate ?? max, min), max)
    }
}
