extension SeriesKey {
    /// Appends the key: tenant (optional), name, labels.
    public func encode(into writer: inout BinaryWriter) {
        writer.string(tenantID)
        writer.string(name)
        labels.encode(into: &writer)
    }

    /// Reads what `encode(into:)` wrote.
    public init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        let tenantID = try reader.optionalString()
        let name = try reader.string()
        self.init(tenantID: tenantID, name: name, labels: try Labels(decoding: &reader))
    }
}

extension Labels {
    /// Appends the pairs in key order: a count, then key and value of each.
    public func encode(into writer: inout BinaryWriter) {
        writer.varint(pairs.count)
        for pair in pairs {
            writer.string(pair.key)
            writer.string(pair.value)
        }
    }

    /// Reads what `encode(into:)` wrote; throws unless the keys are unique and in order, as
    /// labels always hold them.
    public init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        let n = try reader.count(minimumSize: 2)
        var pairs: [Label] = []
        pairs.reserveCapacity(n)
        for _ in 0..<n {
            let label = Label(key: try reader.string(), value: try reader.string())
            if let last = pairs.last, !(last.key < label.key) {
                throw .malformed("label keys are not unique and in order (\"\(last.key)\", then \"\(label.key)\")")
            }
            pairs.append(label)
        }
        self.init(sortedUnique: pairs)
    }
}
