/// A floating-point sum that is exact until the final rounding (Shewchuk's algorithm, as in
/// Python's `math.fsum`).
///
/// Design §3 promises exact sums. Naive summation depends on the order of the values, and the
/// same samples arrive in different orders live and when `query --aggregate` reads them back from
/// the store; the correctly rounded sum does not.
public struct ExactSum: Sendable, Hashable {
    /// Non-overlapping partial sums, smallest magnitude first; their exact total is the sum.
    /// The first three live inline: sums of typical metrics need no more (decimal samples
    /// often hold three), and a heap array per series per window would cost a cache miss on
    /// every add. `inline` counts them, 4 meaning "three, then `more`".
    @usableFromInline var p0: Double = 0
    @usableFromInline var p1: Double = 0
    @usableFromInline var p2: Double = 0
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
            case 3: return [p0, p1, p2]
            default: return [p0, p1, p2] + more
            }
        }
        set {
            inline = UInt8(min(newValue.count, 4))
            p0 = newValue.count > 0 ? newValue[0] : 0
            p1 = newValue.count > 1 ? newValue[1] : 0
            p2 = newValue.count > 2 ? newValue[2] : 0
            more = newValue.count > 3 ? Array(newValue[3...]) : []
        }
    }

    /// Equal sums have equal partials and overflow, whatever a slot no longer in use holds.
    public static func == (lhs: ExactSum, rhs: ExactSum) -> Bool {
        lhs.partials == rhs.partials && lhs.overflow.bitPattern == rhs.overflow.bitPattern
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(partials)
        hasher.combine(overflow.bitPattern)
    }

    /// One step of Shewchuk's grow-expansion: adds `y` to the running `x` and returns the
    /// rounding error, the next partial when it is not zero.
    @inlinable @inline(__always)
    static func twoSum(_ x: inout Double, _ y: Double) -> Double {
        var a = x, b = y
        if abs(a) < abs(b) { swap(&a, &b) }
        let hi = a + b
        x = hi
        return b - (hi - a)
    }

    @inlinable
    public mutating func add(_ value: Double) {
        // Fast paths for up to three partials; the general loop below otherwise.
        switch inline {
        case 0:
            if value.isFinite { p0 = value; inline = 1 } else { overflow += value }
        case 1:
            var x = value
            let lo = Self.twoSum(&x, p0)
            guard x.isFinite else { return overflowed(x) }
            if lo != 0 { p0 = lo; p1 = x; inline = 2 } else { p0 = x }
        case 2:
            var x = value
            var out: (Double, Double) = (0, 0)
            var kept = 0
            let lo0 = Self.twoSum(&x, p0)
            if lo0 != 0 { out.0 = lo0; kept = 1 }
            let lo1 = Self.twoSum(&x, p1)
            if lo1 != 0 {
                if kept == 0 { out.0 = lo1 } else { out.1 = lo1 }
                kept += 1
            }
            guard x.isFinite else { return overflowed(x) }
            switch kept {
            case 0: p0 = x; inline = 1
            case 1: p0 = out.0; p1 = x; inline = 2
            default: p0 = out.0; p1 = out.1; p2 = x; inline = 3
            }
        case 3:
            var x = value
            var out: (Double, Double, Double) = (0, 0, 0)
            var kept = 0
            let lo0 = Self.twoSum(&x, p0)
            if lo0 != 0 { out.0 = lo0; kept = 1 }
            let lo1 = Self.twoSum(&x, p1)
            if lo1 != 0 {
                if kept == 0 { out.0 = lo1 } else { out.1 = lo1 }
                kept += 1
            }
            let lo2 = Self.twoSum(&x, p2)
            if lo2 != 0 {
                switch kept {
                case 0: out.0 = lo2
                case 1: out.1 = lo2
                default: out.2 = lo2
                }
                kept += 1
            }
            guard x.isFinite else { return overflowed(x) }
            switch kept {
            case 0: p0 = x; inline = 1
            case 1: p0 = out.0; p1 = x; inline = 2
            case 2: p0 = out.0; p1 = out.1; p2 = x; inline = 3
            default:
                p0 = out.0; p1 = out.1; p2 = out.2; inline = 4
                // Reuses the storage an earlier fourth partial left (a sum that keeps crossing
                // between three and four partials would otherwise allocate each time).
                more.removeAll(keepingCapacity: true)
                more.append(x)
            }
        default:
            addSlow(value)
        }
    }

    @usableFromInline
    mutating func overflowed(_ x: Double) {
        overflow += x
        partials = []
    }

    @usableFromInline
    mutating func addSlow(_ value: Double) {
        // Four or more partials: p0, p1, p2, then `more`, updated in place.
        let n = 3 + more.count
        var x = value
        var kept = 0
        for i in 0..<n {
            let lo = Self.twoSum(&x, i == 0 ? p0 : i == 1 ? p1 : i == 2 ? p2 : more[i - 3])
            if lo != 0 {
                switch kept {
                case 0: p0 = lo
                case 1: p1 = lo
                case 2: p2 = lo
                default: more[kept - 3] = lo
                }
                kept += 1
            }
        }
        if !x.isFinite {
            overflowed(x)
            return
        }
        switch kept {
        case 0: p0 = x; more.removeAll(keepingCapacity: true); inline = 1
        case 1: p1 = x; more.removeAll(keepingCapacity: true); inline = 2
        case 2: p2 = x; more.removeAll(keepingCapacity: true); inline = 3
        default:
            if kept - 3 < more.count {
                more[kept - 3] = x
                more.removeSubrange((kept - 2)...)
            } else {
                more.append(x)
            }
            inline = 4
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
