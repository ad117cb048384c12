extension DDSketch {
    /// Appends the sketch losslessly: exact count, zero count, minimum and maximum (bit
    /// patterns), then the positive and negative bins (first index, number of bins, and the
    /// bins that hold values, each as its distance from the previous one and its count).
    ///
    /// The relative accuracy is fixed (`relativeAccuracy`), so it is not written; a container
    /// that stores sketches versions the layout.
    public func encode(into writer: inout BinaryWriter) {
        writer.varint(storedCount)
        writer.varint(zeroCount)
        writer.f64(storedMin)
        writer.f64(storedMax)
        positive.encode(into: &writer)
        negative.encode(into: &writer)
    }

    /// Reads what `encode(into:)` wrote; throws when the counts do not add up.
    public init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        self.init()
        storedCount = try reader.varint()
        // Far more values than any sketch sees, and adding to it can never overflow.
        guard storedCount < 1 << 62 else { throw .malformed("DDSketch count \(storedCount) is out of range") }
        zeroCount = try reader.varint()
        storedMin = try reader.f64()
        storedMax = try reader.f64()
        positive = try BinStore(decoding: &reader)
        negative = try BinStore(decoding: &reader)
        var total = zeroCount
        var overflow = false
        for store in [positive, negative] {
            store.forEachBin { _, c in
                let (sum, o) = total.addingReportingOverflow(c)
                total = sum
                overflow = overflow || o
            }
        }
        guard !overflow, total == storedCount else {
            throw .malformed("DDSketch holds \(storedCount) values but its bins count \(overflow ? "more than 2^64" : String(total))")
        }
    }
}

extension DDSketch.BinStore {
    /// Bin indices stay far inside this range (about −1,040…35,500 cover every indexable
    /// double at α = 1%); the bound keeps `offset + i` from overflowing on damaged input.
    static let offsetLimit: Int64 = 1 << 31

    /// The first index and the number of bins, then only the bins that hold values, each as
    /// its distance from the previous one and its count: wide sketches are mostly empty bins.
    func encode(into writer: inout BinaryWriter) {
        writer.signed(Int64(firstIndex))
        writer.varint(span)
        writer.varint(filledCount)
        var previous = firstIndex - 1
        forEachBin { index, c in
            writer.varint(index - previous - 1)
            writer.varint(c)
            previous = index
        }
    }

    init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        self.init()
        let first = try reader.signed()
        guard first.magnitude <= Self.offsetLimit else { throw .malformed("DDSketch bin index \(first) is out of range") }
        // Empty bins take no bytes: only the store's own limit bounds their number.
        let n = try reader.count(minimumSize: 0, maximum: Self.maximumBins)
        let filled = try reader.count(minimumSize: 2, maximum: n)
        var bins = [UInt64](repeating: 0, count: n)
        var i = -1
        for _ in 0..<filled {
            let gap = try reader.varint()
            guard gap < UInt64(n - 1 - i) else { throw .malformed("DDSketch bin past the last of \(n)") }
            i += Int(gap) + 1
            let c = try reader.varint()
            guard c > 0 else { throw .malformed("DDSketch lists an empty bin") }
            bins[i] = c
        }
        self = DDSketch.BinStore(offset: Int(first), dense: bins)
    }
}
