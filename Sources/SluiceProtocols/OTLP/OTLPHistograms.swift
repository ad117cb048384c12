#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel

extension OTLP {
    /// A checked explicit-bucket histogram point: bucket `k` holds the samples in
    /// (`bounds[k-1]`, `bounds[k]`], the first reaching down to −∞ and the last up to +∞.
    struct ExplicitHistogram: Sendable, Equatable {
        var count: UInt64
        var sum: Double
        var min: Double?
        var max: Double?
        var bounds: [Double]
        var counts: [UInt64]

        /// Checks what `metrics.proto` requires of the point: finite, strictly increasing
        /// bounds, one more count than bounds, counts adding up to `count`.
        init(_ point: HistogramPoint) throws(DecodeError) {
            guard let sum = point.sum else { throw OTLP.noSum }
            try OTLP.checkSummary(sum: sum, min: point.min, max: point.max)
            for (i, bound) in point.explicitBounds.enumerated() {
                guard bound.isFinite else { throw DecodeError(.nonFinite, "explicit bound \(i + 1) is \(bound)") }
                if i > 0, !(point.explicitBounds[i - 1] < bound) {
                    throw DecodeError(.outOfRange, "explicit bounds must increase, but bound \(i + 1) (\(bound)) follows \(point.explicitBounds[i - 1])")
                }
            }
            if point.bucketCounts.isEmpty {
                // Only count and sum: one bucket holds everything.
                bounds = []
                counts = [point.count]
            } else {
                guard point.bucketCounts.count == point.explicitBounds.count + 1 else {
                    throw DecodeError(.outOfRange, "\(point.bucketCounts.count) bucket counts for \(point.explicitBounds.count) explicit bounds (expected \(point.explicitBounds.count + 1))")
                }
                bounds = point.explicitBounds
                counts = point.bucketCounts
            }
            try OTLP.checkTotal(counts, zeroCount: 0, count: point.count)
            count = point.count
            self.sum = sum
            min = point.min
            max = point.max
        }

        init(count: UInt64, sum: Double, min: Double?, max: Double?, bounds: [Double], counts: [UInt64]) {
            (self.count, self.sum, self.min, self.max, self.bounds, self.counts) = (count, sum, min, max, bounds, counts)
        }

        /// The buckets that hold samples, lowest first.
        var ranges: [OTLPBucketRange] {
            counts.indices.compactMap { k in
                guard counts[k] > 0 else { return nil }
                return OTLPBucketRange(lower: k == 0 ? -.infinity : bounds[k - 1], upper: k == bounds.count ? .infinity : bounds[k], count: counts[k])
            }
        }
    }

    /// A checked base-2 exponential histogram point: with base = 2^(2^−scale), positive bucket
    /// `i` holds (base^i, base^(i+1)], negative bucket `i` holds [−base^(i+1), −base^i), and the
    /// zero bucket holds [−zeroThreshold, zeroThreshold].
    struct ExponentialHistogram: Sendable, Equatable {
        var count: UInt64
        var sum: Double
        var min: Double?
        var max: Double?
        var scale: Int32
        var zeroThreshold: Double
        var zeroCount: UInt64
        var positive: Buckets
        var negative: Buckets

        /// The scales `metrics.proto` allows: −10 (base 2^1024) to 20.
        static let scales: ClosedRange<Int32> = -10...20

        init(_ point: ExponentialHistogramPoint) throws(DecodeError) {
            guard let sum = point.sum else { throw OTLP.noSum }
            try OTLP.checkSummary(sum: sum, min: point.min, max: point.max)
            guard Self.scales.contains(point.scale) else {
                throw DecodeError(.outOfRange, "scale \(point.scale) is outside \(Self.scales.lowerBound)…\(Self.scales.upperBound)")
            }
            guard point.zeroThreshold.isFinite, point.zeroThreshold >= 0 else {
                throw DecodeError(.outOfRange, "zero threshold \(point.zeroThreshold) is not a finite non-negative number")
            }
            try OTLP.checkTotal(point.positive.counts + point.negative.counts, zeroCount: point.zeroCount, count: point.count)
            count = point.count
            self.sum = sum
            min = point.min
            max = point.max
            scale = point.scale
            zeroThreshold = point.zeroThreshold
            zeroCount = point.zeroCount
            positive = point.positive
            negative = point.negative
        }

        init(count: UInt64, sum: Double, min: Double?, max: Double?, scale: Int32, zeroThreshold: Double, zeroCount: UInt64,
             positive: Buckets, negative: Buckets) {
            (self.count, self.sum, self.min, self.max) = (count, sum, min, max)
            (self.scale, self.zeroThreshold, self.zeroCount, self.positive, self.negative) = (scale, zeroThreshold, zeroCount, positive, negative)
        }

        /// base^index, exactly a power of two when the exponent is whole.
        func boundary(_ index: Int) -> Double {
            exp2(Double(index) * exp2(-Double(scale)))
        }

        /// The buckets that hold samples, lowest first.
        var ranges: [OTLPBucketRange] {
            var out: [OTLPBucketRange] = []
            for k in negative.counts.indices.reversed() where negative.counts[k] > 0 {
                let i = Int(negative.offset) + k
                out.append(OTLPBucketRange(lower: -boundary(i + 1), upper: -boundary(i), count: negative.counts[k]))
            }
            if zeroCount > 0 {
                out.append(OTLPBucketRange(lower: -zeroThreshold, upper: zeroThreshold, count: zeroCount))
            }
            for k in positive.counts.indices where positive.counts[k] > 0 {
                let i = Int(positive.offset) + k
                out.append(OTLPBucketRange(lower: boundary(i), upper: boundary(i + 1), count: positive.counts[k]))
            }
            return out
        }
    }

    static let noSum = DecodeError(.unsupported, "the histogram point has no sum (OTLP allows that when samples are negative), and Sluice keeps sums exact; record it with a sum")

    static func checkSummary(sum: Double, min: Double?, max: Double?) throws(DecodeError) {
        guard sum.isFinite else { throw DecodeError(.nonFinite, "sum \(sum) is not a finite number") }
        if let min, !min.isFinite { throw DecodeError(.nonFinite, "min \(min) is not a finite number") }
        if let max, !max.isFinite { throw DecodeError(.nonFinite, "max \(max) is not a finite number") }
        if let min, let max, min > max { throw DecodeError(.outOfRange, "min \(min) is greater than max \(max)") }
    }

    static func checkTotal(_ counts: [UInt64], zeroCount: UInt64, count: UInt64) throws(DecodeError) {
        var total = zeroCount
        for c in counts {
            let (sum, overflow) = total.addingReportingOverflow(c)
            guard !overflow else { throw DecodeError(.outOfRange, "the bucket counts add up to more than 2^64") }
            total = sum
        }
        guard total == count else { throw DecodeError(.outOfRange, "the bucket counts add up to \(total), but count is \(count)") }
    }
}

/// One histogram bucket that holds samples: `count` samples somewhere in [`lower`, `upper`].
struct OTLPBucketRange: Sendable, Equatable {
    var lower: Double
    var upper: Double
    var count: UInt64
}
