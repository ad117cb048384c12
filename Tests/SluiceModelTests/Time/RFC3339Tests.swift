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

    @Test("every day of four years round-trips through the civil-date conversion")
    func civilDates() throws {
        for day in stride(from: 19_000, to: 20_461, by: 1) {
            let t = Timestamp(seconds: Int64(day) * 86_400 + 3_723)
            #expect(try RFC3339.parse(RFC3339.format(t)).get() == t)
        }
    }
}
