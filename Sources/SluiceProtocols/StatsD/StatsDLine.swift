import SluiceModel

/// One StatsD or DogStatsD metric line, read but not yet applied:
///
/// ```
/// name:value[:value…]|type[|@rate][|#tag:value,tag…][|T<unix seconds>][|c:container][|e:…][|card:…]
/// ```
///
/// Several values (DogStatsD 1.1) are several samples of the same metric. A set's value is a
/// member, any text, so it is never split.
struct StatsDLine {
    enum Kind: String, Sendable {
        case counter = "c"
        case gauge = "g"
        case timer = "ms"
        case histogram = "h"
        case distribution = "d"
        case set = "s"
    }

    /// A number as written; `signed` when it starts with `+` or `-`, which makes a gauge
    /// value a change to the previous one.
    struct Number: Equatable {
        var value: Double
        var signed: Bool
    }

    var name: String
    var kind: Kind
    /// The samples of every kind but a set.
    var numbers: [Number]
    /// A set's member.
    var member: String
    var rate: Double = 1
    var tags: [Labels.Label] = []
    /// DogStatsD 1.4's `|T`: the sample's time in Unix seconds.
    var timestamp: Int64?
    var timestampColumn = 0

    private static let pipe = UInt8(ascii: "|")
    private static let colon = UInt8(ascii: ":")
    private static let comma = UInt8(ascii: ",")

    /// What a line is: a metric, or a DogStatsD event or service check, which are no samples.
    enum Parsed {
        case metric(StatsDLine)
        case notAMetric
    }

    /// Parses one line (without its newline).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(LineFault) -> Parsed {
        if bytes.starts(with: "_e{".utf8) || bytes.starts(with: "_sc|".utf8) { return .notAMetric }
        guard let firstPipe = bytes.firstIndex(of: pipe) else {
            throw LineFault(column: bytes.count + 1, reason: .invalidSyntax, message: "expected '|' and a type (c, g, ms, h, d or s) after the value")
        }
        guard let nameEnd = bytes[..<firstPipe].firstIndex(of: colon) else {
            throw LineFault(column: firstPipe + 1, reason: .invalidSyntax, message: "expected ':' and a value after the name")
        }
        guard nameEnd > 0 else { throw LineFault(column: 1, reason: .invalidSyntax, message: "the metric name is empty") }
        guard let name = String(validating: bytes[..<nameEnd], as: UTF8.self) else {
            throw LineFault(column: 1, reason: .invalidUTF8, message: "the metric name is not valid UTF-8")
        }

        let sections = split(bytes, from: firstPipe + 1, by: pipe)
        let typeRange = sections[0]
        guard let kind = Kind(rawValue: String(decoding: bytes[typeRange], as: UTF8.self)) else {
            let shown = String(decoding: bytes[typeRange].prefix(20), as: UTF8.self)
            throw LineFault(column: typeRange.lowerBound + 1, reason: .invalidSyntax, message: "unknown type \"\(shown)\": expected c, g, ms, h, d or s")
        }
        var line = StatsDLine(name: name, kind: kind, numbers: [], member: "")
        let valueRange = (nameEnd + 1)..<firstPipe
        if kind == .set {
            guard !valueRange.isEmpty else { throw LineFault(column: valueRange.lowerBound + 1, reason: .invalidSyntax, message: "the set member is empty") }
            guard let member = String(validating: bytes[valueRange], as: UTF8.self) else {
                throw LineFault(column: valueRange.lowerBound + 1, reason: .invalidUTF8, message: "the set member is not valid UTF-8")
            }
            line.member = member
        } else {
            for range in split(bytes, range: valueRange, by: colon) {
                let token = bytes[range]
                guard let value = DecimalText.double(token) else {
                    let shown = String(decoding: token.prefix(40), as: UTF8.self)
                    throw LineFault(column: range.lowerBound + 1, reason: .wrongType, message: token.isEmpty ? "a value is empty" : "value \"\(shown)\" is not a number")
                }
                guard value.isFinite else {
                    throw LineFault(column: range.lowerBound + 1, reason: .nonFinite, message: "value \(String(decoding: token.prefix(40), as: UTF8.self)) is not a finite number")
                }
                let first = token.first!
                line.numbers.append(Number(value: value, signed: first == UInt8(ascii: "+") || first == UInt8(ascii: "-")))
            }
        }
        for range in sections.dropFirst() {
            try line.readSection(bytes, range)
        }
        return .metric(line)
    }

    /// Reads one `|…` section after the type.
    private mutating func readSection(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(LineFault) {
        let column = range.lowerBound + 1
        let section = bytes[range]
        guard let first = section.first else {
            throw LineFault(column: column, reason: .invalidSyntax, message: "empty section between '|'")
        }
        switch first {
        case UInt8(ascii: "@"):
            guard let value = DecimalText.double(section.dropFirst()), value > 0, value <= 1 else {
                throw LineFault(column: column, reason: .outOfRange, message: "sample rate \"\(String(decoding: section.prefix(40), as: UTF8.self))\" must be a number greater than 0 and at most 1")
            }
            rate = value
        case UInt8(ascii: "#"):
            try readTags(bytes, (range.lowerBound + 1)..<range.upperBound)
        case UInt8(ascii: "T"):
            let digits = section.dropFirst()
            guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy(DecimalText.isDigit) else {
                throw LineFault(column: column, reason: .badTimestamp, message: "timestamp \"\(String(decoding: section.prefix(40), as: UTF8.self))\" must be T and whole Unix seconds")
            }
            timestamp = Int64(String(decoding: digits, as: UTF8.self))
            timestampColumn = column
        default:
            // DogStatsD's container id (`c:`), external data (`e:`) and cardinality (`card:`)
            // say where a sample came from, which Sluice does not record.
            if section.starts(with: "c:".utf8) || section.starts(with: "e:".utf8) || section.starts(with: "card:".utf8) { return }
            throw LineFault(column: column, reason: .invalidSyntax, message:
                "unknown section \"\(String(decoding: section.prefix(20), as: UTF8.self))\": expected @rate, #tags, T<seconds>, c:, e: or card:")
        }
    }

    /// `tag:value,tag…`: the first `:` ends the key (a value may hold more); a tag without a
    /// value is a label with an empty value.
    private mutating func readTags(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(LineFault) {
        for tag in Self.split(bytes, range: range, by: Self.comma) {
            let text = bytes[tag]
            let keyEnd = text.firstIndex(of: Self.colon) ?? tag.upperBound
            guard keyEnd > tag.lowerBound else {
                throw LineFault(column: tag.lowerBound + 1, reason: .invalidSyntax, message: "a tag has an empty name")
            }
            guard let key = String(validating: bytes[tag.lowerBound..<keyEnd], as: UTF8.self),
                  let value = keyEnd < tag.upperBound ? String(validating: bytes[(keyEnd + 1)..<tag.upperBound], as: UTF8.self) : "" else {
                throw LineFault(column: tag.lowerBound + 1, reason: .invalidUTF8, message: "a tag is not valid UTF-8")
            }
            tags.append(Labels.Label(key: key, value: value))
        }
    }

    /// The ranges between separators, from `start` to the end.
    private static func split(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, by separator: UInt8) -> [Range<Int>] {
        split(bytes, range: start..<bytes.count, by: separator)
    }

    private static func split(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, by separator: UInt8) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = range.lowerBound
        for i in range where bytes[i] == separator {
            ranges.append(start..<i)
            start = i + 1
        }
        ranges.append(start..<range.upperBound)
        return ranges
    }
}
