extension HyperLogLog {
    /// Appends the sketch losslessly: its precision, then either the exact hashes (ascending)
    /// or the dense registers (one byte each).
    public func encode(into writer: inout BinaryWriter) {
        writer.u8(UInt8(Self.precision))
        switch storage {
        case .exact(let hashes):
            writer.u8(0)
            writer.varint(hashes.count)
            for h in hashes.sorted() { writer.u64(h) }
        case .dense(let registers):
            writer.u8(1)
            writer.raw(registers)
        }
    }

    /// Reads what `encode(into:)` wrote; throws on another precision, unsorted or too many
    /// exact hashes, or a register no hash could set.
    public init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        self.init()
        let precision = try reader.u8()
        guard precision == Self.precision else {
            throw .malformed("HyperLogLog precision is \(precision); this Sluice reads \(Self.precision)")
        }
        switch try reader.u8() {
        case 0:
            let n = try reader.count(minimumSize: 8, maximum: Self.exactLimit)
            var hashes = Set<UInt64>(minimumCapacity: n)
            var previous: UInt64?
            for _ in 0..<n {
                let h = try reader.u64()
                if let previous, h <= previous { throw .malformed("HyperLogLog hashes are not strictly ascending") }
                previous = h
                hashes.insert(h)
            }
            storage = .exact(hashes)
        case 1:
            let registers = Array(try reader.raw(Self.registerCount))
            let maximumRank = UInt8(64 - Self.precision + 1)
            if let bad = registers.first(where: { $0 > maximumRank }) {
                throw .malformed("HyperLogLog register \(bad) exceeds the largest rank, \(maximumRank)")
            }
            storage = .dense(registers)
        case let form:
            throw .malformed("HyperLogLog form \(form) is neither exact (0) nor dense (1)")
        }
    }
}
