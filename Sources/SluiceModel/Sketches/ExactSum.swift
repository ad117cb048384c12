/// A floating-point sum that is exact until the final rounding (Shewchuk's algorithm, as in
/// Python's `math.fsum`).
///
/// Design §3 promises exact sums. Naive summation depends on the order of the values, and the
/// same samples arrive in different orders live and when `query --aggregate` reads them back from
/// the store; the correctly rounded sum does not.
public struct ExactSum: Sendable, Hashable {
    /// Non-overlapping partial sums, smallest magnitude first; their exact total is the sum.
    /// The first two live inline: sums of typical metrics need no more, and a heap array per
    /// series per window would cost a cache miss on every add.
    @usableFromInline var p0: Double = 0
    @usableFromInline var p1: Double = 0
    @usableFromInline var inline: UInt8 = 0
    @usableFromInline var more: [Double] = []
    /// Set once a partial overflows; the sum is then ±infinity.
    @usableFromInline var overflow: Double = 0

    public init() {}

    @usableFromInline var partials: [Double] {
        get {
            switch inline {
            case 0: return []
            case 1: return [p0]
            case 2: return [p0, p1]
            default: return [p0, p1] + more
            }
        }
        set {
            inline = UInt8(min(newValue.count, 3))
            p0 = newValue.count > 0 ? newValue[0] : 0
            p1 = newValue.count > 1 ? newValue[1] : 0
            more = newValue.count > 2 ? Array(newValue[2...]) : []
        }
    }

    @inlinable
    public mutating func add(_ value: Double) {
        // Fast paths for zero, one and two partials; the general loop below otherwise.
        if inline == 0 {
            if value.isFinite { p0 = value; inline = 1 } else { overflow += value }
            return
        }
        if inline == 1 {
            var x = value, y = p0
            if abs(x) < abs(y) { swap(&x, &y) }
            let hi = x + y
            let lo = y - (hi - x)
            guard hi.isFinite else { overflow += hi; inline = 0; return }
            if lo != 0 { p0 = lo; p1 = hi; inline = 2 } else { p0 = hi }
            return
        }
        if inline == 2 {
            var x = value
            var kept = 0
            var out0 = 0.0, out1 = 0.0
            var y = p0
            if abs(x) < abs(y) { swap(&x, &y) }
            var hi = x + y
            var lo = y - (hi - x)
            if lo != 0 { out0 = lo; kept = 1 }
            x = hi
            y = p1
            if abs(x) < abs(y) { swap(&x, &y) }
            hi = x + y
            lo = y - (hi - x)
            if lo != 0 {
                if kept == 0 { out0 = lo } else { out1 = lo }
                kept += 1
            }
            x = hi
            guard x.isFinite else { overflow += x; inline = 0; return }
            switch kept {
            case 0: p0 = x; inline = 1
            case 1: p0 = out0; p1 = x; inline = 2
            default:
                p0 = out0; p1 = out1; inline = 3
                // Reuses the storage an earlier third partial left (a sum that keeps crossing
                // between two and three partials would otherwise allocate each time).
                more.removeAll(keepingCapacity: true)
                more.append(x)
            }
            return
        }
        addSlow(value)
    }

    @usableFromInline
    mutating func addSlow(_ value: Double) {
        // Three or more partials: p0, p1, then `more`, updated in place.
        let n = 2 + more.count
        var x = value
        var kept = 0
        for i in 0..<n {
            var y = i == 0 ? p0 : i == 1 ? p1 : more[i - 2]
            if abs(x) < abs(y) { swap(&x, &y) }
            let hi = x + y
            let lo = y - (hi - x)
            if lo != 0 {
                switch kept {
                case 0: p0 = lo
                case 1: p1 = lo
                default: more[kept - 2] = lo
                }
                kept += 1
            }
            x = hi
        }
        if !x.isFinite {
            overflow += x
            partials = []
            return
        }
        switch kept {
        case 0: p0 = x; more.removeAll(keepingCapacity: true); inline = 1
        case 1: p1 = x; more.removeAll(keepingCapacity: true); inline = 2
        default:
            if kept - 2 < more.count {
                more[kept - 2] = x
                more.removeSubrange((kept - 1)...)
            } else {
                more.append(x)
            }
            inline = 3
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
        let partials = self.partials
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
