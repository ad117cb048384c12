/// Decimal numbers as text protocols write them (Influx float fields, StatsD values).
enum DecimalText {
    /// `[+-]digits[.digits][e[+-]digits]`, also `1.` and `.5`: Go's and C's decimal float
    /// syntax without `inf`, `nan` or hexadecimal, which neither protocol sends.
    static func isDecimal(_ token: some Collection<UInt8>) -> Bool {
        var i = token.startIndex
        let end = token.endIndex
        if i < end, token[i] == UInt8(ascii: "-") || token[i] == UInt8(ascii: "+") { i = token.index(after: i) }
        var digits = 0
        while i < end, isDigit(token[i]) { i = token.index(after: i); digits += 1 }
        if i < end, token[i] == UInt8(ascii: ".") {
            i = token.index(after: i)
            while i < end, isDigit(token[i]) { i = token.index(after: i); digits += 1 }
        }
        guard digits > 0 else { return false }
        if i < end, token[i] == UInt8(ascii: "e") || token[i] == UInt8(ascii: "E") {
            i = token.index(after: i)
            if i < end, token[i] == UInt8(ascii: "-") || token[i] == UInt8(ascii: "+") { i = token.index(after: i) }
            var exponentDigits = 0
            while i < end, isDigit(token[i]) { i = token.index(after: i); exponentDigits += 1 }
            guard exponentDigits > 0 else { return false }
        }
        return i == end
    }

    /// The nearest double to a decimal `isDecimal` accepted (infinite when it overflows).
    static func double(_ token: some Collection<UInt8>) -> Double? {
        guard isDecimal(token) else { return nil }
        return Double(String(decoding: token, as: UTF8.self))
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}
