import Testing
@testable import SluiceModel

@Suite("JSON writer")
struct JSONWriterTests {
    func number(_ value: Double) -> String {
        var w = JSONWriter()
        w.number(value)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test("doubles print in shortest round-trip form, integers without a fraction")
    func doubles() {
        #expect(number(1) == "1")
        #expect(number(-0.0) == "-0")
        #expect(number(0.1) == "0.1")
        #expect(number(2.5e-7) == "2.5e-07")
        #expect(number(1e300) == "1e+300")
        #expect(number(.infinity) == "null")
        #expect(number(.nan) == "null")
        for value in [0.1, 1 / 3.0, 123456.789, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 9007199254740992, -2.5e-300] {
            #expect(Double(number(value))! == value)
        }
    }

    @Test("strings escape quotes, backslashes and control characters; the decoder reads them back")
    func strings() throws {
        let text = "q\"b\\n\nt\t\u{1}é😀"
        var w = JSONWriter()
        w.beginObject()
        w.key("metric_name"); w.string(text)
        w.key("value"); w.number(1)
        w.key("timestamp"); w.integer(0)
        w.endObject()
        let line = String(decoding: w.bytes, as: UTF8.self)
        #expect(line.contains(#"\u0001"#))
        guard case .metric(let m) = try NDJSONDecoder().decode(line, ingestTime: nil).get() else { Issue.record("not a metric"); return }
        #expect(m.name == text)
    }

    @Test("money in micro-units prints as an exact decimal")
    func decimals() {
        func d(_ micros: Int64) -> String {
            var w = JSONWriter()
            w.decimal(micros: micros)
            return String(decoding: w.bytes, as: UTF8.self)
        }
        #expect(d(0) == "0")
        #expect(d(12_500_000) == "12.5")
        #expect(d(3) == "0.000003")
        #expect(d(-1_250_000) == "-1.25")
    }
}
