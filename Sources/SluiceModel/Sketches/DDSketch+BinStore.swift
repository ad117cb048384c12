extension DDSketch {
    /// The counts of a contiguous range of bin indices: sparse while few bins hold values,
    /// dense once they are many.
    ///
    /// A series with a handful of values spread over decades (two latencies, 1 ms and 5 s)
    /// would need hundreds of dense bins for two counts, so a store starts as sorted
    /// (index, count) pairs and turns dense when that is no larger, or when the pairs grow
    /// long enough to make insertion slow. Either way it holds the same counts: the span, the
    /// encoding, quantiles and equality do not depend on the representation. Dense bins
    /// beyond `maximumBins` collapse the lowest ones; a sparse store turns dense before its
    /// span could reach that, so collapsing happens exactly as it always has.
    @usableFromInline
    struct BinStore: Sendable, Hashable {
        /// Dense: the bin index of `bins[0]`. Sparse: unused (0).
        @usableFromInline var offset = 0
        /// Dense: one count per index from `offset`. Sparse: pairs of (index as a bit pattern,
        /// count), ascending by index, every count above zero.
        @usableFromInline var bins: [UInt64] = []
        @usableFromInline var isSparse = true
        /// More bins than this collapse the lowest ones together (α = 1% covers 35 decades in
        /// 4,096 bins, so this only guards memory against hostile input).
        @usableFromInline static let maximumBins = 4_096
        /// Pairs kept at most before a store turns dense (insertion into pairs is linear).
        @usableFromInline static let maximumPairs = 64
        /// Pairs from which a store whose span is small enough turns dense (never going back).
        @usableFromInline static let densePairs = 8

        @usableFromInline init() {}

        /// A dense store (decoded from bytes).
        init(offset: Int, dense: [UInt64]) {
            self.offset = offset
            bins = dense
            isSparse = false
        }

        @usableFromInline var isEmpty: Bool { bins.isEmpty }

        /// The lowest index of the range (the first bin that ever held a value).
        var firstIndex: Int {
            if isSparse { return bins.isEmpty ? 0 : Int(Int64(bitPattern: bins[0])) }
            return offset
        }

        /// Indices in the range, from the lowest to the highest that ever held a value.
        var span: Int {
            if isSparse { return bins.isEmpty ? 0 : Int(Int64(bitPattern: bins[bins.count - 2])) - firstIndex + 1 }
            return bins.count
        }

        /// Bins that hold a value.
        var filledCount: Int {
            if isSparse { return bins.count / 2 }
            var n = 0
            for c in bins where c > 0 { n += 1 }
            return n
        }

        @inlinable
        mutating func add(_ index: Int, count: UInt64) {
            if isSparse {
                addSparse(index, count: count)
            } else {
                addDense(index, count: count)
            }
        }

        /// The address of `index`'s count when the store is dense and holds it (see
        /// `DDSketch.countAddress`).
        @inlinable @inline(__always)
        func countAddress(_ index: Int) -> UnsafeRawPointer? {
            let i = index - offset
            guard !isSparse, i >= 0, i < bins.count else { return nil }
            return bins.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress! + i) }
        }

        @usableFromInline
        mutating func addSparse(_ index: Int, count: UInt64) {
            // Binary search for the index among the pairs.
            var low = 0, high = bins.count / 2
            while low < high {
                let mid = (low + high) / 2
                if Int(Int64(bitPattern: bins[2 * mid])) < index { low = mid + 1 } else { high = mid }
            }
            if low < bins.count / 2, Int(Int64(bitPattern: bins[2 * low])) == index {
                bins[2 * low + 1] += count
                return
            }
            let pairs = bins.count / 2 + 1
            let lowest = bins.isEmpty ? index : Swift.min(index, firstIndex)
            let highest = bins.isEmpty ? index : Swift.max(index, Int(Int64(bitPattern: bins[bins.count - 2])))
            let span = highest - lowest + 1
            // Dense once it is no larger (8 bytes a bin against 16 a pair) for more than a few
            // values, or the pairs are many; and before the span could need collapsing, so that
            // the dense store collapses exactly as it would have.
            if (pairs >= Self.densePairs && span <= 2 * pairs) || pairs > Self.maximumPairs || span > Self.maximumBins {
                makeDense()
                addDense(index, count: count)
                return
            }
            bins.insert(contentsOf: [UInt64(bitPattern: Int64(index)), count], at: 2 * low)
        }

        /// Turns the pairs into dense bins over their span.
        mutating func makeDense() {
            guard isSparse else { return }
            let first = firstIndex, span = span
            isSparse = false
            guard !bins.isEmpty else { return }
            var dense = [UInt64](repeating: 0, count: span)
            for k in stride(from: 0, to: bins.count, by: 2) { dense[Int(Int64(bitPattern: bins[k])) - first] = bins[k + 1] }
            offset = first
            bins = dense
        }

        @usableFromInline
        mutating func addDense(_ index: Int, count: UInt64) {
            if bins.isEmpty {
                offset = index
                bins.append(count)
                return
            }
            var i = index - offset
            if i >= 0 && i < bins.count {
                bins[i] += count
                return
            }
            if i < 0 {
                let grow = -i
                if bins.count + grow > Self.maximumBins {
                    // Collapse: the new value joins the lowest bin kept.
                    let keep = Self.maximumBins - bins.count
                    if keep > 0 {
                        bins.insert(contentsOf: repeatElement(0, count: keep), at: 0)
                        offset -= keep
                    }
                    bins[0] += count
                    return
                }
                bins.insert(contentsOf: repeatElement(0, count: grow), at: 0)
                offset = index
                i = 0
            } else {
                let grow = i - bins.count + 1
                if bins.count + grow > Self.maximumBins {
                    // Keep the high end, where the tail quantiles live; fold the lowest bins.
                    let shift = bins.count + grow - Self.maximumBins
                    let folded = bins[0..<Swift.min(shift + 1, bins.count)].reduce(0, +)
                    bins.removeFirst(Swift.min(shift, bins.count))
                    if bins.isEmpty { bins.append(0) }
                    bins[0] = folded
                    offset += shift
                    i = index - offset
                }
                if i >= bins.count { bins.append(contentsOf: repeatElement(0, count: i - bins.count + 1)) }
            }
            bins[i] += count
        }

        mutating func merge(_ other: BinStore) {
            other.forEachBin { index, c in add(index, count: c) }
        }

        /// Each bin that holds a value, ascending by index.
        func forEachBin(_ body: (Int, UInt64) -> Void) {
            if isSparse {
                for k in stride(from: 0, to: bins.count, by: 2) { body(Int(Int64(bitPattern: bins[k])), bins[k + 1]) }
            } else {
                for (i, c) in bins.enumerated() where c > 0 { body(offset + i, c) }
            }
        }

        /// The first result `body` gives, walking the bins that hold values in index order.
        func firstBin<T>(descending: Bool, _ body: (Int, UInt64) -> T?) -> T? {
            if isSparse {
                let n = bins.count / 2
                for j in 0..<n {
                    let k = descending ? 2 * (n - 1 - j) : 2 * j
                    if let found = body(Int(Int64(bitPattern: bins[k])), bins[k + 1]) { return found }
                }
            } else {
                for j in 0..<bins.count {
                    let i = descending ? bins.count - 1 - j : j
                    if bins[i] > 0, let found = body(offset + i, bins[i]) { return found }
                }
            }
            return nil
        }

        /// Equal when they hold the same counts over the same range, whatever the representation.
        @usableFromInline
        static func == (lhs: BinStore, rhs: BinStore) -> Bool {
            if lhs.isSparse == rhs.isSparse && lhs.offset == rhs.offset && lhs.bins == rhs.bins { return true }
            guard lhs.firstIndex == rhs.firstIndex, lhs.span == rhs.span, lhs.filledCount == rhs.filledCount else { return false }
            var left: [(Int, UInt64)] = []
            lhs.forEachBin { left.append(($0, $1)) }
            var k = 0
            var same = true
            rhs.forEachBin { index, c in
                if same, k < left.count, left[k] == (index, c) { k += 1 } else { same = false }
            }
            return same && k == left.count
        }

        @usableFromInline
        func hash(into hasher: inout Hasher) {
            hasher.combine(firstIndex)
            hasher.combine(span)
            forEachBin { hasher.combine($0); hasher.combine($1) }
        }
    }
}
