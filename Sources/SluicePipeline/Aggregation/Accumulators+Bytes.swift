import SluiceModel

// Lossless binary forms of the accumulators, for window checkpoints. Decoders throw on damage
// and never trap.

extension MetricAccumulator {
    func encode(into writer: inout BinaryWriter) {
        sum.encode(into: &writer)
        sketch.encode(into: &writer)
    }

    init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        self.init()
        sum = try ExactSum(decoding: &reader)
        sketch = try DDSketch(decoding: &reader)
    }
}

extension CacheAccumulator {
    func encode(into writer: inout BinaryWriter) {
        writer.varint(hits)
        writer.varint(misses)
        writer.varint(sizeKB)
        writer.signed(sizeTime)
    }

    init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        self.init()
        hits = try reader.varint()
        misses = try reader.varint()
        sizeKB = try reader.varint()
        sizeTime = try reader.signed()
    }
}

extension VisitAccumulator {
    func encode(into writer: inout BinaryWriter) {
        writer.varint(visits)
        visitors.encode(into: &writer)
    }

    init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        self.init()
        visits = try reader.varint()
        // Counting on from here must never overflow.
        guard visits < 1 << 62 else { throw .malformed("visit count \(visits) is out of range") }
        visitors = try HyperLogLog(decoding: &reader)
    }
}

extension CacheKey {
    func encode(into writer: inout BinaryWriter) {
        writer.string(tenantID)
        writer.string(cache)
        labels.encode(into: &writer)
    }

    init(decoding reader: inout BinaryReader) throws(BinaryDecodingError) {
        let tenantID = try reader.optionalString()
        let cache = try reader.optionalString()
        self.init(tenantID: tenantID, cache: cache, labels: try Labels(decoding: &reader))
    }

    /// A total order (output order, then an unnamed cache before one named ""), so that
    /// encodings of equal panes are equal bytes.
    static func encodingOrder(_ l: CacheKey, _ r: CacheKey) -> Bool {
        if l.tenantID != r.tenantID { return TenantOrder.less(l.tenantID, r.tenantID) }
        if l.cache != r.cache {
            guard let lc = l.cache else { return true }
            guard let rc = r.cache else { return false }
            return lc < rc
        }
        return l.labels < r.labels
    }
}
