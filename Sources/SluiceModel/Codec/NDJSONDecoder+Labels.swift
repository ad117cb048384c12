extension FieldSlots {
    /// Reads the `labels` object.
    ///
    /// A key given more than once keeps its last value (as a repeated field of the record does)
    /// and counts once against `maximum`: the limit bounds the labels a series carries, and a
    /// repeat adds none. Keys are told apart by `String`'s `==`, the rule `Labels` merges them
    /// by, so what is counted is what is stored.
    ///
    /// A label object whose bytes were read before is taken from `intern` whole: same bytes,
    /// same labels (only objects that read without error are kept there).
    static func readLabels(_ scanner: inout JSONScanner, maximum: Int, intern: inout InternTable) throws(DecodeError) -> Labels {
        let start = scanner.index
        var probe = scanner
        if (try? probe.skipValue(depth: 1)) != nil {
            let raw = UnsafeBufferPointer(rebasing: scanner.bytes[start..<probe.index])
            let hash = InternTable.hash(raw)
            if let known = intern.labels.lookup(raw, hash: hash) {
                scanner.index = probe.index
                return known
            }
            let labels = try readLabels(&scanner, maximum: maximum)
            intern.labels.insert(raw, hash: hash, labels)
            return labels
        }
        return try readLabels(&scanner, maximum: maximum)
    }

    static func readLabels(_ scanner: inout JSONScanner, maximum: Int) throws(DecodeError) -> Labels {
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") { scanner.index += 1; return .empty }
        var pairs: [Labels.Label] = []
        // While keys arrive in ascending order (the common case) none can repeat: no search.
        var ascending = true
        while true {
            scanner.skipWhitespace()
            guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.syntaxError("expected a label name") }
            let key = scanner.string(try scanner.scanString())
            try scanner.expect(UInt8(ascii: ":"), "expected ':' after a label name")
            scanner.skipWhitespace()
            guard scanner.peek() == UInt8(ascii: "\"") else {
                try scanner.skipValue(depth: 2)
                throw DecodeError(.wrongType, "label \"\(key)\" must have a string value")
            }
            let value = scanner.string(try scanner.scanString())
            if ascending, let last = pairs.last, !(last.key < key) { ascending = false }
            if !ascending, let repeated = pairs.firstIndex(where: { $0.key == key }) {
                pairs[repeated].value = value
            } else {
                pairs.append(.init(key: key, value: value))
                if pairs.count > maximum {
                    throw DecodeError(.tooManyLabels, "more than \(maximum) labels")
                }
            }
            scanner.skipWhitespace()
            guard let c = scanner.peek() else { throw scanner.syntaxError("expected ',' or '}'") }
            scanner.index += 1
            if c == UInt8(ascii: "}") { break }
            guard c == UInt8(ascii: ",") else { scanner.index -= 1; throw scanner.syntaxError("expected ',' or '}'") }
        }
        return Labels(pairs)
    }
}
