/// A floating-point sum that is exact until the final rounding (Shewchuk's algorithm, as in
/// Python's `math.fsum`).
///
/// Design §3 promises exact sums. Naive summation depends on the order of the values, and the
/// same samples arrive in different orders live and when `query --aggregate` reads them back from
/// the store; the correctly rounded sum does not.
public struct ExactSum: Sendable, Hashable {
    /// Non-overlapping partial sums, smallest magnitude first; their exact total is the sum.
    /// The first four live inline: sums of typical metrics need no more (decimal samples often
    /// hold three or four), and a heap array per series per window would cost a cache miss on
    /// every add. `count` counts them, 5 meaning "four, then `more`".
    @usableFromInline var first: (Double, Double, Double, Double) = (0, 0, 0, 0)
    @usableFromInline var count: UInt8 = 0
    @usableFromInline var more: [Double] = []
    /// Set once a partial overflows; the sum is then ±infinity.
    @usableFromInline var overflow: Double = 0

    @usableFromInline static let inlineCount = 4

    public init() {}

    @usableFromInline var partials: [Double] {
        get {
            var copy = first
            let inline = withUnsafeBytes(of: &copy) { Array($0.bindMemory(to: Double.self).prefix(Swift.min(Int(count), Self.inlineCount))) }
            return count > Self.inlineCount ? inline + more : inline
        }
        set {
            count = UInt8(Swift.min(newValue.count, Self.inlineCount + 1))
            first = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &first) { raw in
                let p = raw.bindMemory(to: Double.self)
                for i in 0..<Swift.min(newValue.count, Self.inlineCount) { p[i] = newValue[i] }
            }
            more = newValue.count > Self.inlineCount ? Array(newValue[Self.inlineCount...]) : []
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

    /// Adds `value`: Shewchuk's grow-expansion over the partials, in place. Each rounding error
    /// that is not zero becomes the next partial kept (never ahead of the one being read), and
    /// the running total becomes the last.
    @inlinable
    public mutating func add(_ value: Double) {
        guard count <= Self.inlineCount else { return addSlow(value) }
        let n = Int(count)
        var x = value
        var kept = 0
        // In place: a copy of the partials in and out would move 64 bytes for every add.
        withUnsafeMutableBytes(of: &first) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: Double.self)
            for i in 0..<n {
                let lo = Self.twoSum(&x, p[i])
                if lo != 0 {
                    p[kept] = lo
                    kept += 1
                }
            }
            if kept < Self.inlineCount { p[kept] = x }
        }
        guard x.isFinite else { return overflowed(x) }
        if kept < Self.inlineCount {
            count = UInt8(kept + 1)
        } else {
            // One partial more than fit inline. The storage an earlier one left is reused (a sum
            // that keeps crossing that line would otherwise allocate each time).
            more.removeAll(keepingCapacity: true)
            more.append(x)
            count = UInt8(Self.inlineCount + 1)
        }
    }

    @usableFromInline
    mutating func overflowed(_ x: Double) {
        overflow += x
        partials = []
    }

    /// `add` past the inline partials: the same steps over the four inline, then `more`.
    @usableFromInline
    mutating func addSlow(_ value: Double) {
        var x = value
        var kept = 0
        var partials = first
        withUnsafeMutableBytes(of: &partials) { raw in
            let p = raw.bindMemory(to: Double.self)
            let n = Self.inlineCount + more.count
            for i in 0..<n {
                let lo = Self.twoSum(&x, i < Self.inlineCount ? p[i] : more[i - Self.inlineCount])
                if lo != 0 {
                    if kept < Self.inlineCount { p[kept] = lo } else { more[kept - Self.inlineCount] = lo }
                    kept += 1
                }
            }
            if kept < Self.inlineCount { p[kept] = x }
        }
        first = partials
        guard x.isFinite else { return overflowed(x) }
        if kept < Self.inlineCount {
            more.removeAll(keepingCapacity: true)
            count = UInt8(kept + 1)
        } else {
            let at = kept - Self.inlineCount
            if at < more.count {
                more[at] = x
                more.removeSubrange((at + 1)...)
            } else {
                more.append(x)
            }
            count = UInt8(Self.inlineCount + 1)
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
