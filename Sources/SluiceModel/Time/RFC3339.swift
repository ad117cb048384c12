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

    static func isLeapYear(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
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
