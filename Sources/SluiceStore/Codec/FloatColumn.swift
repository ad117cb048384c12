/// A column of doubles: as scaled integers when every value is a short decimal (most metrics),
/// otherwise as the XOR of each value with the one before (Gorilla's trick: similar values share
/// their high bits, so the XOR is a small integer and a short varint). Both are bit-exact.
enum FloatColumn {
    static let powers: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
    static let raw: UInt8 = 0xFF

    static func encode(_ values: [Double], into w: inout ByteWriter) {
        if let scale = decimalScale(values) {
            w.u8(UInt8(scale))
            let p = powers[scale]
            var previous: Int64 = 0
            for v in values {
                let i = Int64((v * p).rounded())
                w.signed(i &- previous)
                previous = i
            }
            return
        }
        w.u8(raw)
        var previous: UInt64 = 0
        for v in values {
            let bits = v.bitPattern
            w.varint(bits ^ previous)
            previous = bits
        }
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
        guard Int(mode) < powers.count else { throw .corrupt("unknown float column mode \(mode)") }
        let p = powers[Int(mode)]
        var previous: Int64 = 0
        for _ in 0..<count {
            previous &+= try r.signed()
            out.append(Double(previous) / p)
        }
        return out
    }

    /// The smallest decimal scale at which every value is an integer that divides back to the
    /// very same double; `nil` when there is none up to 9 digits.
    static func decimalScale(_ values: [Double]) -> Int? {
        var scale = 0
        for v in values {
            guard v.isFinite, !(v == 0 && v.sign == .minus) else { return nil }
            while scale < powers.count, !exact(v, scale) { scale += 1 }
            if scale == powers.count { return nil }
        }
        for v in values where !exact(v, scale) { return nil }
        return scale
    }

    @inline(__always)
    static func exact(_ v: Double, _ scale: Int) -> Bool {
        let p = powers[scale]
        let scaled = (v * p).rounded()
        guard abs(scaled) < 9_007_199_254_740_992 else { return false }
        return scaled / p == v
    }
}

/// Timestamps as delta-of-delta zig-zag varints: regular intervals cost one byte (a zero).
enum TimeColumn {
    static func encode(_ times: [Int64], into w: inout ByteWriter) {
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for (i, t) in times.enumerated() {
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
            out.append(previous)
        }
        return out
    }
}
