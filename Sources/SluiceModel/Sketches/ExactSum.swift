/// A floating-point sum that is exact until the final rounding (Shewchuk's algorithm, as in
/// Python's `math.fsum`).
///
/// Design §3 promises exact sums. Naive summation depends on the order of the values, and the
/// same samples arrive in different orders live and when `query --aggregate` reads them back from
/// the store; the correctly rounded sum does not.
public struct ExactSum: Sendable, Hashable {
    /// Non-overlapping partial sums, smallest magnitude first; their exact total is the sum.
    @usableFromInline var partials: [Double] = []
    /// Set once a partial overflows; the sum is then ±infinity.
    @usableFromInline var overflow: Double = 0

    public init() {}

    @inlinable
    public mutating func add(_ value: Double) {
        var x = value
        var kept = 0
        for i in 0..<partials.count {
            var y = partials[i]
            if abs(x) < abs(y) { swap(&x, &y) }
            let hi = x + y
            let lo = y - (hi - x)
            if lo != 0 {
                partials[kept] = lo
                kept += 1
            }
            x = hi
        }
        if !x.isFinite {
            overflow += x
            partials.removeAll(keepingCapacity: true)
            return
        }
        if kept < partials.count {
            partials[kept] = x
            partials.removeSubrange((kept + 1)...)
        } else {
            partials.append(x)
        }
    }

    /// Adds every partial of another sum: the result is the exact sum of both.
    public mutating func add(_ other: ExactSum) {
        for p in other.partials { add(p) }
        overflow += other.overflow
    }

    /// The correctly rounded total.
    public var value: Double {
        if overflow != 0 || overflow.isNaN { return overflow }
        var n = partials.count
        guard n > 0 else { return 0 }
        n -= 1
        var hi = partials[n]
        var lo: Double = 0
        while n > 0 {
            n -= 1
            let x = hi
            let y = partials[n]
            hi = x + y
            let yr = hi - x
            lo = y - yr
            if lo != 0 { break }
        }
        // Round half-even correctly when the rest would tip the last bit.
        if n > 0, (lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0) {
            let y = lo * 2
            let x = hi + y
            if y == x - hi { hi = x }
        }
        return hi
    }
}
