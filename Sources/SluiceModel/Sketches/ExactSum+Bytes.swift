extension ExactSum {
    /// Appends the sum losslessly: its partials (bit patterns, smallest magnitude first) and
    /// its overflow, so that the decoded sum adds and rounds exactly as this one would.
    public func encode(into writer: inout BinaryWriter) {
        let partials = self.partials
        writer.varint(partials.count)
        for p in partials { writer.f64(p) }
        writer.f64(overflow)
    }

    /// Reads what `encode(into:)` wrote.
    public init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        let n = try reader.count(minimumSize: 8)
        var partials: [Double] = []
        partials.reserveCapacity(n)
        for _ in 0..<n { partials.append(try reader.f64()) }
        self.init()
        self.partials = partials
        overflow = try reader.f64()
    }
}
