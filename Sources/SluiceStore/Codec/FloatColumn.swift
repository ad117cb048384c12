/// A column of doubles, bit-exact, in the smallest of three forms (FORMAT.md, "Float column"):
///
/// - decimal: each value as an integer at a common decimal scale s (v·10^s), as deltas or
///   plain. Values that are a short decimal plus binary noise (`51.846000000000004`, the next
///   double after 51.846) are stored at the short decimal's scale with a per-value correction:
///   the difference between the value's bits and the decimal's bits, almost always 0 or ±1.
/// - raw: each value's bits XOR the previous value's (Gorilla's trick), for data with no
///   decimal structure.
enum FloatColumn {
    static let powers: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]
    static let raw: UInt8 = 0xFF
    static let corrected: UInt8 = 0x10
    static let plain: UInt8 = 0x20
    /// A value within this many ULPs of a decimal counts as that decimal plus noise.
    static let noiseULPs: Int64 = 16

    static func encode(_ values: [Double], into w: inout ByteWriter) {
        guard let scale = decimalScale(values) else {
            encodeRaw(values, into: &w)
            return
        }
        let p = powers[scale]
        var ints: [Int64] = []
        ints.reserveCapacity(values.count)
        var corrections: [Int64] = []
        var anyCorrection = false
        for v in values {
            let i = Int64((v * p).rounded())
            ints.append(i)
            let c = Int64(bitPattern: v.bitPattern) &- Int64(bitPattern: (Double(i) / p).bitPattern)
            corrections.append(c)
            if c != 0 { anyCorrection = true }
        }
        // Deltas suit smooth series; plain integers suit noise (deltas double its range).
        var deltaBytes = 0, plainBytes = 0, previous: Int64 = 0
        for i in ints {
            deltaBytes += varintLength(zigzag(i &- previous))
            plainBytes += varintLength(zigzag(i))
            previous = i
        }
        var correctionBytes = 0
        if anyCorrection { for c in corrections { correctionBytes += varintLength(zigzag(c)) } }
        let rawBytes = rawLength(values)
        guard min(deltaBytes, plainBytes) + correctionBytes < rawBytes else {
            encodeRaw(values, into: &w)
            return
        }
        let asPlain = plainBytes < deltaBytes
        w.u8(UInt8(scale) | (anyCorrection ? corrected : 0) | (asPlain ? plain : 0))
        previous = 0
        for i in ints {
            w.signed(asPlain ? i : i &- previous)
            previous = i
        }
        if anyCorrection { for c in corrections { w.signed(c) } }
    }

    private static func encodeRaw(_ values: [Double], into w: inout ByteWriter) {
        w.u8(raw)
        var previous: UInt64 = 0
        for v in values {
            let bits = v.bitPattern
            w.varint(bits ^ previous)
            previous = bits
        }
    }

    private static func rawLength(_ values: [Double]) -> Int {
        var n = 0, previous: UInt64 = 0
        for v in values {
            n += varintLength(v.bitPattern ^ previous)
            previous = v.bitPattern
        }
        return n
    }

    static func decode(_ count: Int, from r: inout ByteReader) throws(StoreError) -> [Double] {
        var out = [Double]()
        out.reserveCapacity(count)
        let mode = try r.u8()
        if mode == raw {
            var previous: UInt64 = 0
            for _ in 0..<count {
                previous ^= try r.varint()
                out.append(Double(bitPattern: previous))
            }
            return out
        }
        guard mode & 0xC0 == 0 else { throw .corrupt("unknown float column mode \(mode)") }
        let p = powers[Int(mode & 0x0F)]
        var previous: Int64 = 0
        for _ in 0..<count {
            let v = try r.signed()
            previous = mode & plain != 0 ? v : previous &+ v
            out.append(Double(previous) / p)
        }
        if mode & corrected != 0 {
            for i in 0..<count {
                let c = try r.signed()
                out[i] = Double(bitPattern: UInt64(bitPattern: Int64(bitPattern: out[i].bitPattern) &+ c))
            }
        }
        return out
    }

    /// The largest of the values' own decimal scales (each value's shortest decimal, allowing
    /// binary noise), when every value fits an integer at that scale; `nil` otherwise.
    static func decimalScale(_ values: [Double]) -> Int? {
        var scale = 0
        for v in values {
            guard v.isFinite else { return nil }
            while scale < powers.count, !near(v, scale) {
                // Skip scales this value cannot reach at all.
                scale += 1
            }
            if scale == powers.count { return nil }
        }
        for v in values where abs(v * powers[scale]) >= 9_007_199_254_740_992 { return nil }
        return scale
    }

    /// Whether `v` is within a few ULPs of a decimal with `scale` fraction digits.
    @inline(__always)
    static func near(_ v: Double, _ scale: Int) -> Bool {
        let p = powers[scale]
        let scaled = (v * p).rounded()
        guard abs(scaled) < 9_007_199_254_740_992 else { return false }
        let d = Int64(bitPattern: v.bitPattern) &- Int64(bitPattern: (scaled / p).bitPattern)
        return d >= -noiseULPs && d <= noiseULPs
    }

    @inline(__always)
    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inline(__always)
    static func varintLength(_ v: UInt64) -> Int {
        v == 0 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7
    }
}

/// Timestamps as delta-of-delta zig-zag varints in the coarsest unit that divides them all
/// (seconds, milliseconds or microseconds): regular intervals cost one byte (a zero), and
/// irregular whole-second timestamps do not pay for six digits of zeros.
enum TimeColumn {
    static let units: [Int64] = [1, 1_000, 1_000_000]

    static func encode(_ times: [Int64], into w: inout ByteWriter) {
        var unit = units.count - 1
        for t in times {
            while unit > 0, t % units[unit] != 0 { unit -= 1 }
            if unit == 0 { break }
        }
        w.u8(UInt8(unit))
        let divisor = units[unit]
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for (i, microseconds) in times.enumerated() {
            let t = microseconds / divisor
            if i == 0 {
                w.signed(t)
            } else {
                let delta = t &- previous
                w.signed(delta &- previousDelta)
                previousDelta = delta
            }
            previous = t
        }
    }

    static func decode(_ count: Int, from r: inout ByteReader) throws(StoreError) -> [Int64] {
        let unit = Int(try r.u8())
        guard unit < units.count else { throw .corrupt("unknown timestamp unit \(unit)") }
        let multiplier = units[unit]
        var out = [Int64]()
        out.reserveCapacity(count)
        var previous: Int64 = 0
        var delta: Int64 = 0
        for i in 0..<count {
            if i == 0 {
                previous = try r.signed()
            } else {
                delta &+= try r.signed()
                previous &+= delta
            }
            out.append(previous &* multiplier)
        }
        return out
    }
}
