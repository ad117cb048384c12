import Foundation
import Testing
@testable import SluiceModel

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test("formats UTC with the shortest exact fraction, and parses its own output")
    func roundTrip() throws {
        let cases: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00Z"),
            (1_795_514_400_250_000, "2026-11-24T10:00:00.250Z"),
            (1_795_514_400_000_001, "2026-11-24T10:00:00.000001Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00Z"),
            (253_402_300_799_000_000, "9999-12-31T23:59:59Z"),
        ]
        for (micros, text) in cases {
            #expect(RFC3339.format(Timestamp(microseconds: micros)) == text)
            #expect(try RFC3339.parse(text).get() == Timestamp(microseconds: micros))
        }
    }

    @Test("random instants from 1970 to 9999 format as Foundation's Gregorian UTC calendar reads them")
    func againstFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var random = SeededRandom(seed: 3_339)
        for _ in 0..<5_000 {
            let seconds = Int64(random.next() % 253_402_300_800)
            let micros = Int64(random.next() % 1_000_000)
            let text = RFC3339.format(Timestamp(microseconds: seconds * 1_000_000 + micros))
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            let fraction = micros == 0 ? "" : micros % 1_000 == 0 ? "." + String(String(micros / 1_000 + 1_000).dropFirst()) : "." + String(String(micros + 1_000_000).dropFirst())
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!) + fraction + "Z"
            #expect(text == expected)
        }
    }

    static func parse(_ text: String) -> Result<Timestamp, RFC3339.ParseError> {
        var copy = text
        return copy.withUTF8 { RFC3339.parse($0) }
    }

    static func parseAny(_ text: String) -> Result<Timestamp, RFC3339.ParseError> {
        var copy = text
        return copy.withUTF8 { RFC3339.parseAny($0) }
    }

    @Test("the common shapes (Z, with and without milliseconds) read as Foundation's calendar reads them, fields out of range included")
    func commonShapesAgainstFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var random = SeededRandom(seed: 2_024)
        var valid = 0
        for i in 0..<20_000 {
            // Fields drawn past their ranges now and then: month 0 and 13, day 29 to 31 of short months, hour 24, second 60.
            let year = Int(random.next() % 10_000), month = Int(random.next() % 14), day = Int(random.next() % 32)
            let hour = Int(random.next() % 25), minute = Int(random.next() % 61), second = Int(random.next() % 61)
            let millis = Int(random.next() % 1_000)
            var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second)
            if i % 2 == 0 { text += String(format: ".%03d", millis) }
            text += "Z"
            let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            // Foundation rolls Feb 30 over into March: a date is valid when its fields come back unchanged.
            let date = calendar.date(from: components)
            let back = date.map { calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: $0) }
            // Foundation's Gregorian calendar is Julian before 1582; RFC 3339's is proleptic.
            let isValid = year >= 1600 && back?.year == year && back?.month == month && back?.day == day && back?.hour == hour && back?.minute == minute && back?.second == second
            let parsed = Self.parse(text)
            if isValid, let date {
                valid += 1
                let micros = Int64((date.timeIntervalSince1970).rounded()) * 1_000_000 + (i % 2 == 0 ? Int64(millis) * 1_000 : 0)
                #expect(parsed == .success(Timestamp(microseconds: micros)), "\(text)")
            } else if year >= 1600 {
                #expect((try? parsed.get()) == nil, "\(text) is not a date, and was read as one")
            }
            #expect(parsed == Self.parseAny(text), "\(text)")
        }
        #expect(valid > 5_000)
    }

    @Test("any one byte changed in a common shape is read, or refused with its reason, as the general parser does")
    func commonShapesMutated() {
        for base in ["2024-02-29T23:59:59.999Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00.000Z"] {
            let bytes = Array(base.utf8)
            for position in bytes.indices {
                for value in UInt8.min...UInt8.max {
                    var changed = bytes
                    changed[position] = value
                    let (fast, general) = changed.withUnsafeBufferPointer { (RFC3339.parse($0), RFC3339.parseAny($0)) }
                    #expect(fast == general, "\(base) with byte \(position) set to \(value)")
                }
            }
        }
    }

    @Test("every day of four years round-trips through the civil-date conversion")
    func civilDates() throws {
        for day in stride(from: 19_000, to: 20_461, by: 1) {
            let t = Timestamp(seconds: Int64(day) * 86_400 + 3_723)
            #expect(try RFC3339.parse(RFC3339.format(t)).get() == t)
        }
    }
}
