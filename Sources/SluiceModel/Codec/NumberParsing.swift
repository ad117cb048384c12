#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Conversions of JSON number bytes, correctly rounded (the same double as `strtod`).
enum NumberParsing {
    private static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The double nearest to the decimal in `bytes` (JSON grammar already checked).
    ///
    /// Clinger's fast path covers what metrics look like (≤ 15 significant digits, small
    /// exponents): both the mantissa and the power of ten are exact doubles, so one IEEE
    /// multiplication or division rounds correctly. Anything else goes to `strtod`.
    static func double(_ bytes: UnsafeBufferPointer<UInt8>) -> Double {
        var i = 0
        let n = bytes.count
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawNonZero = false
        while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let d = UInt64(bytes[i] &- 0x30)
            if sawNonZero || d != 0 { sawNonZero = true; digits += 1 }
            mantissa = mantissa &* 10 &+ d
            i += 1
        }
        if i < n, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let d = UInt64(bytes[i] &- 0x30)
                if sawNonZero || d != 0 { sawNonZero = true; digits += 1 }
                mantissa = mantissa &* 10 &+ d
                exponent -= 1
                i += 1
            }
        }
        if i < n {
            // An exponent: e/E, sign, digits.
            i += 1
            var expNegative = false
            if bytes[i] == UInt8(ascii: "-") { expNegative = true; i += 1 } else if bytes[i] == UInt8(ascii: "+") { i += 1 }
            var e = 0
            while i < n {
                e = e * 10 + Int(bytes[i] &- 0x30)
                if e > 100_000 { return slow(bytes) }
                i += 1
            }
            exponent += expNegative ? -e : e
        }
        if digits <= 15, mantissa <= (1 << 53) {
            var value = Double(mantissa)
            if exponent == 0 {
            } else if exponent > 0, exponent <= 22 {
                value *= exactPowersOfTen[exponent]
            } else if exponent < 0, exponent >= -22 {
                value /= exactPowersOfTen[-exponent]
            } else if mantissa == 0 {
                value = 0
            } else {
                return slow(bytes)
            }
            return negative ? -value : value
        }
        return slow(bytes)
    }

    private static func slow(_ bytes: UnsafeBufferPointer<UInt8>) -> Double {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer in
            for i in 0..<bytes.count { buffer[i] = CChar(bitPattern: bytes[i]) }
            buffer[bytes.count] = 0
            return strtod(buffer.baseAddress!, nil)
        }
    }

    /// A non-negative JSON integer, or why not.
    static func unsigned(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        var i = 0
        if bytes[0] == UInt8(ascii: "-") {
            // "-0" is zero; any other negative number is out of range.
            return bytes.count == 2 && bytes[1] == 0x30 ? 0 : nil
        }
        while i < bytes.count {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] &- 0x30))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        return value
    }

    /// Unix seconds (integer or decimal) to microseconds, exactly when written without an
    /// exponent; fraction digits past the microsecond are dropped, as for RFC 3339.
    static func unixMicroseconds(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        var seconds: Int64 = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            seconds = seconds * 10 + Int64(bytes[i] - 0x30)
            if seconds > 1_000_000_000_000 { return nil }
            i += 1
        }
        var micros: Int64 = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 100_000
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                micros += Int64(bytes[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        if i < bytes.count {
            let d = double(bytes)
            guard d.isFinite, abs(d) < 1e12 else { return nil }
            return Int64((d * 1_000_000).rounded(.down))
        }
        let total = seconds * 1_000_000 + micros
        return negative ? -total : total
    }
}
