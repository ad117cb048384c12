import Foundation
import Testing
@testable import SluiceModel

/// Foundation's JSON parser as an independent judge of which strings are JSON: on random
/// strings built to break every rule, the decoder must accept exactly what it accepts, and
/// read the same text.
@Suite("NDJSON decoder against JSONSerialization")
struct NDJSONDecoderOracleTests {
    /// One piece of a random string. The kinds cover ASCII, escapes good and bad, surrogate
    /// escapes that may or may not pair up, raw control bytes, and UTF-8 sequences that are
    /// well-formed, cut short, overlong, encoded surrogates or past U+10FFFF.
    static func piece(_ random: inout SeededRandom) -> [UInt8] {
        func pick(_ choices: String) -> UInt8 { Array(choices.utf8).randomElement(using: &random)! }
        switch random.next() % 10 {
        case 0:
            // Runs of plain ASCII, so that what follows lands at every offset of a word.
            return (0..<Int.random(in: 1...12, using: &random)).map { _ in
                let b = UInt8.random(in: 0x20...0x7E, using: &random)
                return b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") ? UInt8(ascii: "a") : b
            }
        case 1:
            return [UInt8(ascii: "\\"), pick(#""\/bfnrtqx0U'"#)]
        case 2:
            let digits = random.next() % 5 == 0 ? Int.random(in: 0...3, using: &random) : 4
            return Array(#"\u"#.utf8) + (0..<digits).map { _ in pick("0123456789abcdefABCDEFxg") }
        case 3:
            return Array([#"\ud83d"#, #"\ude00"#, #"\uD800"#, #"\udbff"#, #"\uDC00"#, #"\udfff"#].randomElement(using: &random)!.utf8)
        case 4:
            return Array(#"\ud83d\ude00"#.utf8)
        case 5:
            return [random.next() % 4 == 0 ? 0x7F : UInt8.random(in: 0x00...0x1F, using: &random)]
        case 6:
            return [UInt8.random(in: 0x80...0xFF, using: &random)]
        case 7:
            return Array(String(Character(randomScalar(&random))).utf8)
        case 8:
            return [UInt8.random(in: 0xC0...0xFF, using: &random)]
                + (0..<Int.random(in: 1...3, using: &random)).map { _ in UInt8.random(in: 0x80...0xBF, using: &random) }
        default:
            let whole = Array(String(Character(randomScalar(&random))).utf8)
            return Array(whole.dropLast())
        }
    }

    static func randomScalar(_ random: inout SeededRandom) -> Unicode.Scalar {
        let ranges: [ClosedRange<UInt32>] = [0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
        return Unicode.Scalar(UInt32.random(in: ranges.randomElement(using: &random)!, using: &random))!
    }

    /// The lines a string is tried in: an ignored field, a key in an ignored object, a label.
    static func lines(_ string: [UInt8]) -> [[UInt8]] {
        let metric = Array(#"{"metric_name":"m","value":1,"timestamp":0,"#.utf8)
        return [
            metric + Array(#""extra":""#.utf8) + string + Array(#""}"#.utf8),
            metric + Array(#""extra":{""#.utf8) + string + Array(#"":null}}"#.utf8),
            metric + Array(#""labels":{"k":""#.utf8) + string + Array(#""}}"#.utf8),
        ]
    }

    @Test("random strings: accepted exactly when Foundation accepts them, and read the same")
    func agreesWithFoundation() throws {
        var random = SeededRandom(seed: 0x5EED_F00D)
        let decoder = NDJSONDecoder()
        var accepted = 0, refused = 0
        var disagreements: [String] = []
        for _ in 0..<3_000 {
            let string = (0..<Int.random(in: 0...8, using: &random)).flatMap { _ in Self.piece(&random) }
            for (placement, line) in Self.lines(string).enumerated() {
                let oracle = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                let decoded = decoder.decode(line, ingestTime: nil)
                let shown = "[\(string.map { String($0, radix: 16) }.joined(separator: " "))] in placement \(placement)"
                switch (decoded, oracle) {
                case (.success(let record), .some(let object)):
                    accepted += 1
                    guard placement == 2, case .metric(let metric) = record else { continue }
                    let expected = (object["labels"] as? [String: String])?["k"]
                    if metric.labels["k"].map({ Array($0.utf8) }) != expected.map({ Array($0.utf8) }) {
                        disagreements.append("read differently: \(shown)")
                    }
                case (.failure, .none):
                    refused += 1
                case (.success, .none):
                    disagreements.append("accepted what Foundation refuses: \(shown)")
                case (.failure(let error), .some):
                    disagreements.append("refused what Foundation accepts: \(shown): \(error.message)")
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, the first: \(disagreements.prefix(5).joined(separator: "; "))")
        // Both outcomes are common, or the comparison proves little.
        #expect(accepted > 1_500)
        #expect(refused > 1_500)
    }

    /// Valid strings of 1 to 15 bytes (which the intern table keeps by their two words) and a
    /// few longer: ASCII, multi-byte characters and escapes, and pairs that share an entry and
    /// their first word. Drawn from a pool larger than the table, so that repeats and strings
    /// that replace each other in an entry all come.
    @Test("names read through one intern table, repeats and collisions among them, are the names Foundation reads")
    func internedNamesAgreeWithFoundation() throws {
        var random = SeededRandom(seed: 0x1A7E_5EED)
        func validPiece() -> [UInt8] {
            switch random.next() % 6 {
            case 0: return [UInt8(ascii: "a") + UInt8(random.next() % 3)]
            case 1: return Array(String(Character(Self.randomScalar(&random))).utf8)
            case 2: return Array(#"A"#.utf8)
            default: return [UInt8.random(in: 0x30...0x39, using: &random)]
            }
        }
        var pool: [[UInt8]] = []
        while pool.count < 1_500 {
            var name: [UInt8] = []
            let target = random.next() % 10 == 0 ? 24 : Int(1 + random.next() % 15)
            while name.count < target {
                let piece = validPiece()
                if name.count + piece.count <= target { name += piece } else { break }
            }
            if !name.isEmpty { pool.append(name) }
        }
        // Pairs that share their first eight bytes and the table's entry, and differ after.
        typealias Short = InternTable.ShortStrings
        for _ in 0..<100 {
            let stem = (0..<8).map { _ in UInt8.random(in: 0x61...0x7A, using: &random) }
            var bySlot: [Int: [UInt8]] = [:]
            while true {
                let name = stem + (0..<Int.random(in: 1...7, using: &random)).map { _ in UInt8.random(in: 0x61...0x7A, using: &random) }
                let slot = name.withUnsafeBufferPointer { Short.slot(Short.key($0)) }
                if let other = bySlot[slot], other != name {
                    pool += [other, name]
                    break
                }
                bySlot[slot] = name
            }
        }
        let decoder = NDJSONDecoder()
        var intern = InternTable()
        var checked = 0
        for _ in 0..<40_000 {
            let name = pool[Int(random.next() % UInt64(pool.count))]
            let line = Array(#"{"timestamp":0,"value":1,"metric_name":""#.utf8) + name + Array(#""}"#.utf8)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let expected = try #require(object["metric_name"] as? String)
            let record = try line.withUnsafeBufferPointer { try decoder.decodeOrThrow($0, ingestTime: nil, intern: &intern) }
            guard case .metric(let metric) = record else { Issue.record("not a metric"); return }
            #expect(Array(metric.name.utf8) == Array(expected.utf8), "\(name)")
            checked += 1
        }
        #expect(checked == 40_000)
        #expect(intern.shortStrings.entries.count == InternTable.ShortStrings.entryCount)
    }
}
