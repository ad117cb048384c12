import SluiceModel

/// One line of InfluxDB line protocol, read but not yet made into records:
///
/// ```
/// measurement[,tag_key=tag_value…] field_key=field_value[,field_key=field_value…] [timestamp]
/// ```
struct InfluxLine {
    enum Value: Equatable {
        case float(Double)
        case integer(Int64)
        case unsigned(UInt64)
        case boolean(Bool)
        /// A string field: Sluice keeps numbers only, so only its presence matters.
        case string
    }

    var measurement: String
    var tags: [Labels.Label]
    /// In line order, a repeated key keeping its last value (as InfluxDB does).
    var fields: [(key: String, value: Value)]
    var timestamp: Int64?
    /// Where the timestamp starts (1-based), for an error about its range.
    var timestampColumn: Int
}

/// Reads one line by the line protocol reference's escaping rules:
///
/// - a measurement escapes comma and space;
/// - tag keys, tag values and field keys escape comma, equals sign and space;
/// - a string field value escapes double quote and backslash;
/// - a backslash before any other byte is a literal backslash (and that byte is read as usual).
///
/// The unescaped separators are one comma between tags and between fields, and spaces between
/// the three sections. Names must be valid UTF-8 and not empty.
struct InfluxLineParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private static let backslash = UInt8(ascii: "\\")
    private static let comma = UInt8(ascii: ",")
    private static let space = UInt8(ascii: " ")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses a line that is neither blank nor a comment; leading spaces are skipped.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(LineFault) -> InfluxLine {
        var parser = InfluxLineParser(bytes)
        return try parser.line()
    }

    private mutating func line() throws(LineFault) -> InfluxLine {
        skipSpaces()
        let measurement = try identifier("the measurement", escapes: Self.isMeasurementEscape) { $0 == Self.comma || $0 == Self.space }
        var tags: [Labels.Label] = []
        while peek == Self.comma {
            index += 1
            let keyColumn = column
            let key = try identifier("a tag key", escapes: Self.isKeyEscape) { $0 == Self.equals || $0 == Self.comma || $0 == Self.space }
            guard peek == Self.equals else { throw fault("tag key \"\(key)\" must be followed by '=' and a value") }
            index += 1
            let value = try identifier("the value of tag \"\(key)\"", escapes: Self.isKeyEscape) { $0 == Self.comma || $0 == Self.space }
            if tags.contains(where: { $0.key == key }) {
                throw LineFault(column: keyColumn, reason: .invalidSyntax, message: "tag \"\(key)\" is given twice")
            }
            tags.append(Labels.Label(key: key, value: value))
        }
        guard peek == Self.space else {
            throw fault(peek == nil ? "the line has no fields: a space and at least one field must follow the measurement and tags"
                                    : "expected a space before the fields")
        }
        skipSpaces()
        var fields: [(key: String, value: InfluxLine.Value)] = []
        repeat {
            if !fields.isEmpty { index += 1 }
            let key = try identifier("a field key", escapes: Self.isKeyEscape) { $0 == Self.equals || $0 == Self.comma || $0 == Self.space }
            guard peek == Self.equals else { throw fault("field key \"\(key)\" must be followed by '=' and a value") }
            index += 1
            let value = try fieldValue(key)
            if let earlier = fields.firstIndex(where: { $0.key == key }) { fields.remove(at: earlier) }
            fields.append((key, value))
        } while peek == Self.comma
        var timestamp: Int64?
        var timestampColumn = column
        if peek == Self.space {
            skipSpaces()
            timestampColumn = column
            if peek != nil {
                timestamp = try integerTimestamp()
                skipSpaces()
            }
        }
        if peek != nil { throw fault("unexpected '\(Self.printable(peek!))' after the \(timestamp == nil ? "fields" : "timestamp")") }
        return InfluxLine(measurement: measurement, tags: tags, fields: fields, timestamp: timestamp, timestampColumn: timestampColumn)
    }

    // MARK: Names

    private static func isMeasurementEscape(_ b: UInt8) -> Bool { b == comma || b == space }
    private static func isKeyEscape(_ b: UInt8) -> Bool { b == comma || b == space || b == equals }

    /// The bytes as a string, `nil` when they are not UTF-8. Names are nearly always ASCII,
    /// which needs no validation; the generic validating initialiser costs more than the parse.
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var ascii = true
        for b in bytes where b >= 0x80 {
            ascii = false
            break
        }
        return ascii ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
    }

    /// Reads a name up to the first unescaped byte that `stops` it.
    private mutating func identifier(_ what: String, escapes: (UInt8) -> Bool, stops: (UInt8) -> Bool) throws(LineFault) -> String {
        let start = index
        // Built only once an escape is met: most names have none.
        var unescaped: [UInt8]?
        while index < bytes.count {
            let b = bytes[index]
            if b == Self.backslash, index + 1 < bytes.count, escapes(bytes[index + 1]) {
                if unescaped == nil { unescaped = Array(bytes[start..<index]) }
                unescaped!.append(bytes[index + 1])
                index += 2
                continue
            }
            if stops(b) { break }
            unescaped?.append(b)
            index += 1
        }
        guard index > start else {
            throw LineFault(column: start + 1, reason: .invalidSyntax, message: "\(what) is empty")
        }
        let text = if let unescaped { unescaped.withUnsafeBufferPointer(Self.text) } else { Self.text(UnsafeBufferPointer(rebasing: bytes[start..<index])) }
        guard let text else { throw LineFault(column: start + 1, reason: .invalidUTF8, message: "\(what) is not valid UTF-8") }
        return text
    }

    // MARK: Values

    private mutating func fieldValue(_ key: String) throws(LineFault) -> InfluxLine.Value {
        let start = index
        if peek == Self.quote {
            index += 1
            while index < bytes.count {
                let b = bytes[index]
                if b == Self.backslash, index + 1 < bytes.count, bytes[index + 1] == Self.quote || bytes[index + 1] == Self.backslash {
                    index += 2
                } else if b == Self.quote {
                    index += 1
                    guard Self.text(UnsafeBufferPointer(rebasing: bytes[start..<index])) != nil else {
                        throw LineFault(column: start + 1, reason: .invalidUTF8, message: "the string value of field \"\(key)\" is not valid UTF-8")
                    }
                    return .string
                } else {
                    index += 1
                }
            }
            throw LineFault(column: start + 1, reason: .invalidSyntax, message: "the string value of field \"\(key)\" has no closing '\"'")
        }
        while index < bytes.count, bytes[index] != Self.comma, bytes[index] != Self.space { index += 1 }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<index])
        guard !token.isEmpty else {
            throw LineFault(column: start + 1, reason: .invalidSyntax, message: "field \"\(key)\" has no value")
        }
        if let value = Self.value(token) { return value }
        let shown = String(decoding: token.prefix(40), as: UTF8.self)
        if let last = token.last, last == UInt8(ascii: "i") || last == UInt8(ascii: "u"), Self.isDigits(token.dropLast(), signed: last == UInt8(ascii: "i")) {
            let kind = last == UInt8(ascii: "i") ? "a 64-bit signed integer" : "a 64-bit unsigned integer"
            throw LineFault(column: start + 1, reason: .outOfRange, message: "field \"\(key)\" value \(shown) does not fit in \(kind)")
        }
        throw LineFault(column: start + 1, reason: .wrongType, message:
            "field \"\(key)\" value \(shown) is not a float (1.5), an integer (2i), an unsigned integer (3u), a boolean (t, false…) or a string in double quotes")
    }

    /// A numeric or boolean field value, or `nil` when `token` is none.
    static func value(_ token: UnsafeBufferPointer<UInt8>) -> InfluxLine.Value? {
        switch token.last! {
        case UInt8(ascii: "i"):
            return Self.signed(token.dropLast()).map { .integer($0) }
        case UInt8(ascii: "u"):
            return Self.unsigned(token.dropLast()).map { .unsigned($0) }
        default:
            break
        }
        switch String(decoding: token, as: UTF8.self) {
        case "t", "T", "true", "True", "TRUE": return .boolean(true)
        case "f", "F", "false", "False", "FALSE": return .boolean(false)
        default: break
        }
        return DecimalText.double(token).map { .float($0) }
    }

    private static func isDigit(_ b: UInt8) -> Bool { DecimalText.isDigit(b) }

    private static func isDigits(_ token: Slice<UnsafeBufferPointer<UInt8>>, signed: Bool) -> Bool {
        let body = signed && token.first == UInt8(ascii: "-") ? token.dropFirst() : token
        return !body.isEmpty && body.allSatisfy(isDigit)
    }

    /// `-?digits` as an `Int64`; `nil` when not digits or out of range.
    static func signed(_ token: Slice<UnsafeBufferPointer<UInt8>>) -> Int64? {
        guard isDigits(token, signed: true) else { return nil }
        let negative = token.first == UInt8(ascii: "-")
        var value: Int64 = 0
        for b in negative ? token.dropFirst() : token {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let digit = Int64(b - 0x30)
            let (a, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = a
        }
        return value
    }

    /// `digits` as a `UInt64`; `nil` when not digits or out of range.
    static func unsigned(_ token: Slice<UnsafeBufferPointer<UInt8>>) -> UInt64? {
        guard isDigits(token, signed: false) else { return nil }
        var value: UInt64 = 0
        for b in token {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - 0x30))
            if o1 || o2 { return nil }
            value = a
        }
        return value
    }

    private mutating func integerTimestamp() throws(LineFault) -> Int64 {
        let start = index
        while index < bytes.count, bytes[index] != Self.space { index += 1 }
        let token = bytes[start..<index]
        if let value = Self.signed(token) { return value }
        let shown = String(decoding: token.prefix(40), as: UTF8.self)
        if Self.isDigits(token, signed: true) {
            throw LineFault(column: start + 1, reason: .badTimestamp, message: "timestamp \(shown) does not fit in 64 bits")
        }
        throw LineFault(column: start + 1, reason: .badTimestamp, message: "timestamp \(shown) is not an integer")
    }

    // MARK: Position

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    private var column: Int { index + 1 }

    private mutating func skipSpaces() {
        while index < bytes.count, bytes[index] == Self.space { index += 1 }
    }

    private func fault(_ message: String) -> LineFault {
        LineFault(column: column, reason: .invalidSyntax, message: message)
    }

    /// A byte as it may be shown in a message.
    private static func printable(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
    }
}
