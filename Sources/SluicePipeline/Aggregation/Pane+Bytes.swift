import SluiceModel

extension Pane {
    /// Appends the pane losslessly, entries in a fixed order (so equal panes are equal bytes).
    /// Metric series are written by their number, which the reader checks against its keys.
    func encode(into writer: inout BinaryWriter) {
        writer.varint(metrics.count)
        for (number, acc) in metrics.sorted(by: { $0.key < $1.key }) {
            writer.varint(Int(number))
            acc.encode(into: &writer)
        }
        writer.varint(caches.count)
        for (key, acc) in caches.sorted(by: { CacheKey.encodingOrder($0.key, $1.key) }) {
            key.encode(into: &writer)
            acc.encode(into: &writer)
        }
        writer.varint(visits.count)
        for (tenant, acc) in visits.sorted(by: { TenantOrder.less($0.key, $1.key) }) {
            writer.string(tenant)
            acc.encode(into: &writer)
        }
    }

    /// Reads what `encode(into:)` wrote; throws on a series number not below
    /// `seriesCount` or a series, cache or site that appears twice.
    init(decoding reader: inout BinaryReader, seriesCount: Int) throws(BinaryDecodingError) {
        self.init()
        // Each entry takes at least: a number and an empty sum and sketch; keys and counts.
        let metricCount = try reader.count(minimumSize: 24)
        metrics.reserveCapacity(metricCount)
        for _ in 0..<metricCount {
            let number = try reader.varint()
            guard number < UInt64(seriesCount) else {
                throw .malformed("a pane refers to series \(number) of \(seriesCount)")
            }
            let acc = try MetricAccumulator(decoding: &reader)
            guard metrics.updateValue(acc, forKey: Int32(number)) == nil else {
                throw .malformed("a pane holds series \(number) twice")
            }
        }
        let cacheCount = try reader.count(minimumSize: 7)
        caches.reserveCapacity(cacheCount)
        for _ in 0..<cacheCount {
            let key = try CacheKey(decoding: &reader)
            guard caches.updateValue(try CacheAccumulator(decoding: &reader), forKey: key) == nil else {
                throw .malformed("a pane holds cache \(key.cache ?? "(unnamed)") of tenant \(key.tenantID ?? "(none)") twice")
            }
        }
        let visitCount = try reader.count(minimumSize: 4)
        visits.reserveCapacity(visitCount)
        for _ in 0..<visitCount {
            let tenant = try reader.optionalString()
            guard visits.updateValue(try VisitAccumulator(decoding: &reader), forKey: tenant) == nil else {
                throw .malformed("a pane holds the visits of tenant \(tenant ?? "(none)") twice")
            }
        }
    }
}
