import SluiceModel

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
    static let rawPlanes: UInt8 = 0xFE
    static let corrected: UInt8 = 0x10
    static let plain: UInt8 = 0x20
    static let planes: UInt8 = 0x40
    /// Integers averaging this many varint bytes or more are stored as byte planes: their low
    /// bytes are noise and their high bytes nearly constant, which zstd packs better apart.
    static let planesFromBytes = 2
    /// A value within this many ULPs of a decimal counts as that decimal plus noise.
    static let noiseULPs: Int64 = 16

    /// The arrays `encode` works in, kept between columns so that a block's thousand columns
    /// allocate them once.
    struct Scratch {
        var ints: [Int64] = []
        var corrections: [Int64] = []
    }

    static func encode(_ values: [Double], into w: inout ByteWriter) {
        var scratch = Scratch()
        values.withUnsafeBufferPointer { encode($0, into: &w, scratch: &scratch) }
    }

    static func encode(_ values: UnsafeBufferPointer<Double>, into w: inout ByteWriter) {
        var scratch = Scratch()
        encode(values, into: &w, scratch: &scratch)
    }

    static func encode(_ values: [Double], into w: inout ByteWriter, scratch: inout Scratch) {
        values.withUnsafeBufferPointer { encode($0, into: &w, scratch: &scratch) }
    }

    /// Writes `values` in the smallest form. After the decimal fit, one pass sizes every form
    /// (deltas, plain, corrections, raw) and the widest value of each; the chosen form is then
    /// written from the integers, with no array of its encoded values.
    static func encode(_ values: UnsafeBufferPointer<Double>, into w: inout ByteWriter, scratch: inout Scratch) {
        guard let (scale, anyCorrection) = decimal(values, ints: &scratch.ints, corrections: &scratch.corrections) else {
            encodeRaw(values, into: &w)
            return
        }
        let n = values.count
        scratch.ints.withUnsafeBufferPointer { ints in
            scratch.corrections.withUnsafeBufferPointer { corrections in
                // Deltas suit smooth series; plain integers suit noise (deltas double its range).
                var deltaBytes = 0, plainBytes = 0, correctionBytes = 0, rawBytes = 0
                var widestDelta: UInt64 = 0, widestPlain: UInt64 = 0
                var previous: Int64 = 0, previousBits: UInt64 = 0
                for k in 0..<n {
                    let i = ints[k]
                    let zDelta = zigzag(i &- previous), zPlain = zigzag(i)
                    deltaBytes += varintLength(zDelta)
                    plainBytes += varintLength(zPlain)
                    widestDelta |= zDelta
                    widestPlain |= zPlain
                    correctionBytes += varintLength(zigzag(corrections[k]))
                    let bits = values[k].bitPattern
                    rawBytes += varintLength(bits ^ previousBits)
                    previousBits = bits
                    previous = i
                }
                if !anyCorrection { correctionBytes = 0 }
                guard min(deltaBytes, plainBytes) + correctionBytes < rawBytes else {
                    encodeRaw(values, into: &w)
                    return
                }
                let asPlain = plainBytes < deltaBytes
                let asPlanes = min(deltaBytes, plainBytes) >= planesFromBytes * n
                w.u8(UInt8(scale) | (anyCorrection ? corrected : 0) | (asPlain ? plain : 0) | (asPlanes ? planes : 0))
                if asPlain {
                    write(n, widest: widestPlain, asPlanes: asPlanes, into: &w) { k in zigzag(ints[k]) }
                } else {
                    write(n, widest: widestDelta, asPlanes: asPlanes, into: &w) { k in zigzag(ints[k] &- (k == 0 ? 0 : ints[k - 1])) }
                }
                if anyCorrection {
                    w.append(atMost: 10 * n) { out in
                        for k in 0..<n { out.signed(corrections[k]) }
                    }
                }
            }
        }
    }

    private static func encodeRaw(_ values: UnsafeBufferPointer<Double>, into w: inout ByteWriter) {
        let n = values.count
        var bytes = 0, widest: UInt64 = 0, previous: UInt64 = 0
        for v in values {
            let xor = v.bitPattern ^ previous
            bytes += varintLength(xor)
            widest |= xor
            previous = v.bitPattern
        }
        let asPlanes = bytes >= planesFromBytes * n
        w.u8(asPlanes ? rawPlanes : raw)
        write(n, widest: widest, asPlanes: asPlanes, into: &w) { k in
            values[k].bitPattern ^ (k == 0 ? 0 : values[k - 1].bitPattern)
        }
    }

    /// Writes `value(0..<count)` as varints, or as byte planes given `widest`, the bitwise or of
    /// them all: a byte width w, then w planes, plane k holding byte k (little-endian) of every
    /// value.
    @inline(__always)
    private static func write(_ count: Int, widest: UInt64, asPlanes: Bool, into w: inout ByteWriter, _ value: (Int) -> UInt64) {
        if asPlanes {
            let width = max(1, (64 - widest.leadingZeroBitCount + 7) / 8)
            w.u8(UInt8(width))
            w.append(atMost: width * count) { out in
                for k in 0..<width {
                    let shift = UInt64(8 * k)
                    for i in 0..<count { out.u8(UInt8(truncatingIfNeeded: value(i) >> shift)) }
                }
            }
        } else {
            w.append(atMost: 10 * count) { out in
                for i in 0..<count { out.varint(value(i)) }
            }
        }
    }

    static func readPlanes(_ count: Int, from r: inout ByteReader) throws(StoreError) -> [UInt64] {
        let width = Int(try r.u8())
        guard width >= 1, width <= 8 else { throw .corrupt("byte plane width \(width) out of range") }
        var out = [UInt64](repeating: 0, count: count)
        for k in 0..<width {
            let shift = UInt64(8 * k)
            for i in 0..<count { out[i] |= UInt64(try r.u8()) << shift }
        }
        return out
    }

    static func decode(_ count: Int, from r: inout ByteReader) throws(StoreError) -> [Double] {
        var out = [Double]()
        out.reserveCapacity(count)
        let mode = try r.u8()
        if mode == raw || mode == rawPlanes {
            let xors = mode == rawPlanes ? try readPlanes(count, from: &r) : nil
            var previous: UInt64 = 0
            for i in 0..<count {
                if let xors { previous ^= xors[i] } else { previous ^= try r.varint() }
                out.append(Double(bitPattern: previous))
            }
            return out
        }
        guard mode & 0x80 == 0 else { throw .corrupt("unknown float column mode \(mode)") }
        let p = powers[Int(mode & 0x0F)]
        let planed = mode & planes != 0 ? try readPlanes(count, from: &r) : nil
        var previous: Int64 = 0
        for i in 0..<count {
            let z: UInt64
            if let planed { z = planed[i] } else { z = try r.varint() }
            let v = Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
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
        var ints: [Int64] = [], corrections: [Int64] = []
        return values.withUnsafeBufferPointer { decimal($0, ints: &ints, corrections: &corrections)?.scale }
    }

    /// The values at their decimal scale (see `decimalScale`), into the first `values.count`
    /// places of `ints` and `corrections` (grown to hold them): each as an integer, and the
    /// difference between its bits and that integer's decimal's (the correction). One pass: a
    /// value that needs a finer scale than those before it refits them at that scale.
    static func decimal(_ values: UnsafeBufferPointer<Double>, ints: inout [Int64], corrections: inout [Int64]) -> (scale: Int, anyCorrection: Bool)? {
        let n = values.count
        if ints.count < n {
            ints = [Int64](repeating: 0, count: n)
            corrections = [Int64](repeating: 0, count: n)
        }
        return ints.withUnsafeMutableBufferPointer { ints in
            corrections.withUnsafeMutableBufferPointer { corrections in
                var scale = 0, p = powers[0]
                var anyCorrection = false
                for k in 0..<n {
                    let v = values[k]
                    guard v.isFinite else { return nil }
                    if let (i, c) = fit(v, p) {
                        ints[k] = i
                        corrections[k] = c
                        anyCorrection = anyCorrection || c != 0
                        continue
                    }
                    // Skip scales this value cannot reach at all.
                    var fitted: (Int64, Int64)?
                    repeat {
                        scale += 1
                        fitted = scale < powers.count ? fit(v, powers[scale]) : nil
                    } while fitted == nil && scale < powers.count
                    guard let (i, c) = fitted else { return nil }
                    // The values before it, at the finer scale: fitted or not, each with its correction.
                    p = powers[scale]
                    anyCorrection = false
                    for j in 0..<k {
                        let x = values[j] * p
                        guard abs(x) < 9_007_199_254_740_992 else { return nil }
                        ints[j] = roundedInteger(x)
                        corrections[j] = Int64(bitPattern: values[j].bitPattern) &- Int64(bitPattern: (Double(ints[j]) / p).bitPattern)
                        if corrections[j] != 0 { anyCorrection = true }
                    }
                    ints[k] = i
                    corrections[k] = c
                    if c != 0 { anyCorrection = true }
                }
                return (scale, anyCorrection)
            }
        }
    }

    /// `v` as an integer at the scale whose power of ten is `p` and its correction, when it is
    /// within a few ULPs of that decimal; `nil` otherwise.
    @inline(__always)
    static func fit(_ v: Double, _ p: Double) -> (integer: Int64, correction: Int64)? {
        let x = v * p
        guard abs(x) < 9_007_199_254_740_992 else { return nil }
        let i = roundedInteger(x)
        let c = Int64(bitPattern: v.bitPattern) &- Int64(bitPattern: (Double(i) / p).bitPattern)
        return c >= -noiseULPs && c <= noiseULPs ? (i, c) : nil
    }

    /// `x.rounded()` (half away from zero) as an integer, for |x| < 2⁵³, with no call into libm:
    /// the fraction `x` minus its truncation is exact at these magnitudes.
    @inline(__always)
    static func roundedInteger(_ x: Double) -> Int64 {
        let t = Int64(x)
        let fraction = x - Double(t)
        return fraction >= 0.5 ? t + 1 : fraction <= -0.5 ? t - 1 : t
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

    /// Writes `times` and returns the least and greatest of them ((0, 0) for none), which the
    /// block's summary needs and this pass reads anyway.
    @discardableResult
    static func encode(_ times: [Int64], into w: inout ByteWriter) -> (least: Int64, greatest: Int64) {
        times.withUnsafeBufferPointer { encode($0, into: &w) }
    }

    /// As `encode(_: [Int64], into:)`.
    @discardableResult
    static func encode(_ times: UnsafeBufferPointer<Int64>, into w: inout ByteWriter) -> (least: Int64, greatest: Int64) {
        // Each unit is divided by as a constant: the compiler makes that a multiplication,
        // where a divisor read from `units` would cost a division per timestamp.
        var unit = units.count - 1
        for t in times {
            if unit == 2, t % 1_000_000 != 0 { unit = 1 }
            if unit == 1, t % 1_000 != 0 { unit = 0; break }
        }
        w.u8(UInt8(unit))
        switch unit {
        case 2: return deltas(times, into: &w) { $0 / 1_000_000 }
        case 1: return deltas(times, into: &w) { $0 / 1_000 }
        default: return deltas(times, into: &w) { $0 }
        }
    }

    /// Writes `times`, each divided by its unit, as a first value and then deltas of deltas;
    /// returns the least and greatest.
    @inline(__always)
    private static func deltas(_ times: UnsafeBufferPointer<Int64>, into w: inout ByteWriter, inUnit: (Int64) -> Int64) -> (least: Int64, greatest: Int64) {
        guard !times.isEmpty else { return (0, 0) }
        var least = times[0], greatest = times[0]
        w.append(atMost: 10 * times.count) { out in
            var previous = inUnit(times[0])
            out.signed(previous)
            var previousDelta: Int64 = 0
            for i in 1..<times.count {
                least = Swift.min(least, times[i])
                greatest = Swift.max(greatest, times[i])
                let t = inUnit(times[i])
                let delta = t &- previous
                out.signed(delta &- previousDelta)
                previousDelta = delta
                previous = t
            }
        }
        return (least, greatest)
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

/// Percentile estimates of window aggregates. A DDSketch estimate is a bin's representative
/// value (a power of γ, with no short decimal form), or the window's exact min or max when the
/// estimate is clamped to them; so each is stored as a tag (FORMAT.md, "Percentile column"):
/// the bin number as a difference from the previous one, "the min", "the max", or raw bits.
enum QuantileColumn {
    static func encode(_ values: [Double], minimum: [Double], maximum: [Double], into w: inout ByteWriter) {
        var previous = 0
        for (i, v) in values.enumerated() {
            if v.bitPattern == minimum[i].bitPattern {
                w.varint(1)
            } else if v.bitPattern == maximum[i].bitPattern {
                w.varint(3)
            } else if let bin = DDSketch.nearestIndex(v), DDSketch.value(bin).bitPattern == v.bitPattern {
                w.varint(FloatColumn.zigzag(Int64(bin - previous)) << 1)
                previous = bin
            } else {
                w.varint(5)
                w.varint(v.bitPattern)
            }
        }
    }

    static func decode(_ count: Int, minimum: [Double], maximum: [Double], from r: inout ByteReader) throws(StoreError) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count)
        var previous = 0
        for i in 0..<count {
            let tag = try r.varint()
            switch tag {
            case 1: out.append(minimum[i])
            case 3: out.append(maximum[i])
            case 5: out.append(Double(bitPattern: try r.varint()))
            default:
                guard tag & 1 == 0 else { throw .corrupt("unknown percentile tag \(tag)") }
                let z = tag >> 1
                let delta = Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
                guard abs(delta) < 1 << 20 else { throw .corrupt("percentile bin out of range") }
                previous += Int(delta)
                out.append(DDSketch.value(previous))
            }
        }
        return out
    }
}
