/// RFC 3339 timestamps: parsing any offset, formatting UTC.
///
/// Hand-written because Foundation's `ISO8601DateFormatter` is slow and loses microseconds.
public enum RFC3339 {
    /// Why a timestamp was refused.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case missingOffset
        case outOfRange(String)

        public var description: String {
            switch self {
            case .malformed: "is not RFC 3339 (expected e.g. 2026-11-24T10:00:00.250Z)"
            case .missingOffset: "has no UTC offset (add Z or ±hh:mm)"
            case .outOfRange(let field): "has \(field) out of range"
            }
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; digits past the microsecond are dropped.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Timestamp, ParseError> {
        if let timestamp = parseCommonUTC(bytes) { return .success(timestamp) }
        return parseAny(bytes)
    }

    /// The shapes nearly every client sends, `2026-11-24T10:00:00Z` and `2026-11-24T10:00:00.250Z`,
    /// read eight bytes at a time: `nil` for anything else (other shapes, lower-case `t` or `z`,
    /// and every invalid or out-of-range field), which `parseAny` then reads or explains.
    @inlinable
    static func parseCommonUTC(_ bytes: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        let n = bytes.count
        guard n == 24 || n == 20, let base = bytes.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        // Little-endian words: byte i of a word is bits 8i..<8i+8. Separators are checked, then
        // made "0", so one test checks that all eight bytes are digits.
        let w0 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))   // "2026-11-"
        let w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))   // "24T10:00"
        // ":00.250Z", or for the 20-byte shape "0:00:00Z" (bytes 12..<20).
        let w2 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
        let separators0: UInt64 = 0xFF00_00FF_0000_0000, expected0: UInt64 = 0x2D00_002D_0000_0000      // '-' at 4 and 7
        let separators1: UInt64 = 0x0000_FF00_00FF_0000, expected1: UInt64 = 0x0000_3A00_0054_0000      // 'T' at 2, ':' at 5
        let separators2: UInt64, expected2: UInt64
        if n == 24 {
            separators2 = 0xFF00_0000_FF00_00FF; expected2 = 0x5A00_0000_2E00_003A  // ':' at 0, '.' at 3, 'Z' at 7
        } else {
            separators2 = 0xFF00_00FF_0000_FF00; expected2 = 0x5A00_003A_0000_3A00  // ':' at 1 and 4, 'Z' at 7
        }
        guard w0 & separators0 == expected0, w1 & separators1 == expected1, w2 & separators2 == expected2 else { return nil }
        let zeros: UInt64 = 0x3030_3030_3030_3030
        let d0 = (w0 & ~separators0) | (zeros & separators0)
        let d1 = (w1 & ~separators1) | (zeros & separators1)
        let d2 = (w2 & ~separators2) | (zeros & separators2)
        @inline(__always) func allDigits(_ w: UInt64) -> Bool {
            (w & 0xF0F0_F0F0_F0F0_F0F0) | (((w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4) == 0x3333_3333_3333_3333
        }
        guard allDigits(d0), allDigits(d1), allDigits(d2) else { return nil }
        let v0 = d0 &- zeros, v1 = d1 &- zeros, v2 = d2 &- zeros
        @inline(__always) func digit(_ w: UInt64, _ i: UInt64) -> Int { Int(truncatingIfNeeded: (w >> (8 * i)) & 0xFF) }
        @inline(__always) func two(_ w: UInt64, _ i: UInt64) -> Int { digit(w, i) * 10 + digit(w, i + 1) }
        let year = two(v0, 0) * 100 + two(v0, 2), month = two(v0, 5), day = two(v1, 0)
        let hour = two(v1, 3), minute = two(v1, 6)
        let second: Int, millis: Int
        if n == 24 {
            second = two(v2, 1)
            millis = digit(v2, 4) * 100 + two(v2, 5)
        } else {
            second = two(v2, 5)
            millis = 0
        }
        guard month >= 1, month <= 12, day >= 1, day <= 28 || day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        let seconds = Int64(daysFromCivil(year: year, month: month, day: day)) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        let timestamp = Timestamp(microseconds: seconds * 1_000_000 + Int64(millis) * 1_000)
        return timestamp.isRepresentable ? timestamp : nil
    }

    /// Every shape RFC 3339 allows, with the reason for refusing the rest.
    static func parseAny(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Timestamp, ParseError> {
        let n = bytes.count
        guard n >= 19 else { return .failure(n >= 10 && n < 19 ? .malformed : .malformed) }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var value = 0
            for i in at..<(at + count) {
                let d = Int(bytes[i]) &- 48
                guard d >= 0 && d <= 9 else { return nil }
                value = value * 10 + d
            }
            return value
        }
        guard let year = digits(0, 4), bytes[4] == UInt8(ascii: "-"),
              let month = digits(5, 2), bytes[7] == UInt8(ascii: "-"),
              let day = digits(8, 2),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              let hour = digits(11, 2), bytes[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), bytes[16] == UInt8(ascii: ":"),
              let second = digits(17, 2)
        else { return .failure(.malformed) }
        guard (1...12).contains(month) else { return .failure(.outOfRange("month")) }
        guard day >= 1 && day <= daysInMonth(year: year, month: month) else { return .failure(.outOfRange("day")) }
        guard hour <= 23 else { return .failure(.outOfRange("hour")) }
        guard minute <= 59 else { return .failure(.outOfRange("minute")) }
        guard second <= 59 else { return .failure(.outOfRange("second")) }

        var i = 19
        var micros: Int64 = 0
        if i < n && bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            var scale: Int64 = 100_000
            while i < n, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                micros += Int64(bytes[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > fractionStart else { return .failure(.malformed) }
        }
        guard i < n else { return .failure(.missingOffset) }
        var offsetSeconds = 0
        switch bytes[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard n - i == 6, let oh = digits(i + 1, 2), bytes[i + 3] == UInt8(ascii: ":"),
                  let om = digits(i + 4, 2) else { return .failure(.malformed) }
            guard oh <= 23, om <= 59 else { return .failure(.outOfRange("offset")) }
            offsetSeconds = (oh * 3600 + om * 60) * (bytes[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            return .failure(.missingOffset)
        }
        guard i == n else { return .failure(.malformed) }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        let timestamp = Timestamp(microseconds: seconds * 1_000_000 + micros)
        // An offset can carry 0000-01-01 or 9999-12-31 past what RFC 3339 UTC can write back.
        guard timestamp.isRepresentable else { return .failure(.outOfRange("year (after the offset, outside 0000 to 9999)")) }
        return .success(timestamp)
    }

    /// Parses a `String` (configuration, command-line flags).
    public static func parse(_ text: String) -> Result<Timestamp, ParseError> {
        var copy = text
        return copy.withUTF8 { parse($0) }
    }

    /// `2026-11-24T10:00:00Z`, `…:00.250Z` or `…:00.000250Z`: the shortest of no, three or six
    /// fraction digits that holds the value exactly, so output stays compact and deterministic.
    public static func format(_ timestamp: Timestamp) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        append(timestamp, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the formatted timestamp to an output buffer without an intermediate `String`.
    public static func append(_ timestamp: Timestamp, to out: inout [UInt8]) {
        let us = timestamp.microseconds
        var seconds = us / 1_000_000
        var micros = us % 1_000_000
        if micros < 0 { micros += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = civilFromDays(Int(days))
        // Zero-padded digits written in place: no array per field.
        func put(_ value: Int, _ width: Int) {
            let start = out.count
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
            var v = value
            for i in stride(from: start + width - 1, through: start, by: -1) {
                out[i] = UInt8(48 + v % 10)
                v /= 10
            }
        }
        if year < 0 || year > 9999 { out.append(contentsOf: Array("\(year)".utf8)) } else { put(year, 4) }
        out.append(UInt8(ascii: "-")); put(month, 2)
        out.append(UInt8(ascii: "-")); put(day, 2)
        out.append(UInt8(ascii: "T")); put(Int(secondOfDay / 3600), 2)
        out.append(UInt8(ascii: ":")); put(Int(secondOfDay / 60 % 60), 2)
        out.append(UInt8(ascii: ":")); put(Int(secondOfDay % 60), 2)
        if micros != 0 {
            out.append(UInt8(ascii: "."))
            if micros % 1000 == 0 { put(Int(micros / 1000), 3) } else { put(Int(micros), 6) }
        }
        out.append(UInt8(ascii: "Z"))
    }

    /// The civil (year, month, day) of a day count since 1970-01-01.
    public static func civil(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let (y, m, d) = civilFromDays(days)
        return (y, m, d)
    }

    /// Days since 1970-01-01 of a civil date.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        daysFromCivil(year: year, month: month, day: day)
    }

    @usableFromInline
    static func isLeapYear(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    @usableFromInline
    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    @usableFromInline
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
