extension PromQL {
    /// One token of a query, with where it starts (for error messages).
    struct Token: Sendable, Hashable {
        enum Kind: Sendable, Hashable {
            case identifier(String)
            case number(Double)
            case duration(Micros)
            case string(String)
            case punctuation(String)
            case end
        }

        var kind: Kind
        /// Offset of the first character in the query, in characters.
        var offset: Int

        /// How an error message names it.
        var quoted: String {
            switch kind {
            case .identifier(let s): "\"\(s)\""
            case .number(let n): "number \(n)"
            case .duration(let d): "duration \(PromDuration.format(d))"
            case .string(let s): "string \"\(s)\""
            case .punctuation(let p): "\"\(p)\""
            case .end: "end of input"
            }
        }
    }

    /// Splits a query into tokens: PromQL's identifiers (with `:`), numbers (decimal, hex,
    /// `Inf`, `NaN`), durations (`5m`, `1h30m`), quoted strings with Go's escapes, and
    /// operators. `#` starts a comment.
    struct Lexer {
        private let characters: [Character]
        private var index = 0

        init(_ query: String) { characters = Array(query) }

        /// All tokens, the last one `.end`.
        static func tokens(_ query: String) throws(APIError) -> [Token] {
            var lexer = Lexer(query)
            var out: [Token] = []
            while true {
                let token = try lexer.next()
                out.append(token)
                if token.kind == .end { return out }
            }
        }

        private static let punctuation = ["==", "!=", "=~", "!~", "<=", ">=", "(", ")", "{", "}", "[", "]", ",", "=", "<", ">",
                                          "+", "-", "*", "/", "%", "^", ":", "@"]

        mutating func next() throws(APIError) -> Token {
            skipSpaceAndComments()
            let start = index
            guard index < characters.count else { return Token(kind: .end, offset: start) }
            let c = characters[index]
            if c.isASCII && (c.isLetter || c == "_") {
                let word = scan { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
                switch word.lowercased() {
                case "inf": return Token(kind: .number(.infinity), offset: start)
                case "nan": return Token(kind: .number(.nan), offset: start)
                default: return Token(kind: .identifier(word), offset: start)
                }
            }
            if c.isASCII && c.isNumber || c == "." && index + 1 < characters.count && characters[index + 1].isNumber {
                return try numberOrDuration(start: start)
            }
            if c == "\"" || c == "'" || c == "`" {
                return Token(kind: .string(try quotedString(quote: c, start: start)), offset: start)
            }
            for p in Self.punctuation where matches(p) {
                index += p.count
                return Token(kind: .punctuation(p), offset: start)
            }
            throw PromQL.parseError("unexpected character \"\(c)\"", at: start, in: characters)
        }

        private func matches(_ text: String) -> Bool {
            var i = index
            for ch in text {
                guard i < characters.count, characters[i] == ch else { return false }
                i += 1
            }
            return true
        }

        private mutating func skipSpaceAndComments() {
            while index < characters.count {
                if characters[index].isWhitespace {
                    index += 1
                } else if characters[index] == "#" {
                    while index < characters.count, characters[index] != "\n" { index += 1 }
                } else {
                    return
                }
            }
        }

        private mutating func scan(while accept: (Character) -> Bool) -> String {
            let start = index
            while index < characters.count, accept(characters[index]) { index += 1 }
            return String(characters[start..<index])
        }

        private mutating func numberOrDuration(start: Int) throws(APIError) -> Token {
            if matches("0x") || matches("0X") {
                index += 2
                let digits = scan { $0.isHexDigit }
                guard let value = UInt64(digits, radix: 16) else { throw PromQL.parseError("bad hexadecimal number", at: start, in: characters) }
                return Token(kind: .number(Double(value)), offset: start)
            }
            var text = scan { $0.isASCII && ($0.isNumber || $0 == ".") }
            // A unit right after the digits makes a duration: 5m, 1h30m, 500ms.
            if index < characters.count, "smhdwy".contains(characters[index]), !text.contains(".") {
                index = start
                let word = scan { $0.isASCII && ($0.isNumber || $0.isLetter) }
                guard let micros = PromDuration.parse(word) else {
                    throw PromQL.parseError("bad duration \"\(word)\"", at: start, in: characters)
                }
                return Token(kind: .duration(micros), offset: start)
            }
            if index < characters.count, characters[index] == "e" || characters[index] == "E" {
                text.append(characters[index])
                index += 1
                if index < characters.count, characters[index] == "+" || characters[index] == "-" {
                    text.append(characters[index])
                    index += 1
                }
                text += scan { $0.isASCII && $0.isNumber }
            }
            guard let value = Double(text) else { throw PromQL.parseError("bad number \"\(text)\"", at: start, in: characters) }
            if index < characters.count, characters[index].isLetter || characters[index] == "_" {
                throw PromQL.parseError("bad number or duration \"\(text)\(characters[index])…\"", at: start, in: characters)
            }
            return Token(kind: .number(value), offset: start)
        }

        /// A string in double or single quotes with Go's escapes, or raw in backquotes.
        private mutating func quotedString(quote: Character, start: Int) throws(APIError) -> String {
            index += 1
            var out = ""
            while index < characters.count {
                let c = characters[index]
                index += 1
                if c == quote { return out }
                if quote == "`" || c != "\\" {
                    if c == "\n" && quote != "`" { break }
                    out.append(c)
                    continue
                }
                guard index < characters.count else { break }
                let e = characters[index]
                index += 1
                switch e {
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "v": out.append("\u{0B}")
                case "\\", "\"", "'": out.append(e)
                case "x", "u", "U":
                    let width = e == "x" ? 2 : e == "u" ? 4 : 8
                    try out.unicodeScalars.append(hexScalar(width: width, start: start))
                case "0"..."7":
                    index -= 1
                    let digits = String(characters[index..<min(index + 3, characters.count)])
                    guard digits.count == 3, let value = UInt32(digits, radix: 8), value < 256, let scalar = Unicode.Scalar(value) else {
                        throw PromQL.parseError("bad octal escape in string", at: start, in: characters)
                    }
                    index += 3
                    out.unicodeScalars.append(scalar)
                default:
                    throw PromQL.parseError("unknown escape sequence \"\\\(e)\" in string", at: start, in: characters)
                }
            }
            throw PromQL.parseError("unterminated quoted string", at: start, in: characters)
        }

        private mutating func hexScalar(width: Int, start: Int) throws(APIError) -> Unicode.Scalar {
            let digits = String(characters[index..<min(index + width, characters.count)])
            guard digits.count == width, digits.allSatisfy(\.isHexDigit), let value = UInt32(digits, radix: 16),
                  let scalar = Unicode.Scalar(value) else {
                throw PromQL.parseError("bad escape in string", at: start, in: characters)
            }
            index += width
            return scalar
        }
    }

    /// `bad_data` naming the line and column, as Prometheus words it (`1:5: parse error: …`).
    static func parseError(_ message: String, at offset: Int, in characters: [Character]) -> APIError {
        var line = 1, column = 1
        for c in characters.prefix(offset) {
            if c == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return .badData("invalid parameter \"query\": \(line):\(column): parse error: \(message)")
    }
}
