import SluiceModel

/// Encodes a batch of records by column (FORMAT.md, "Payload"): records are grouped by kind and
/// series, names are dictionary-coded, timestamps delta-of-delta, values scaled integers when
/// exact. The result goes to zstd.
enum BlockCodec {
    /// What identifies a group: one series of one kind (and one window length for aggregates).
    struct GroupKey: Hashable {
        var kind: StoredRecord.Kind
        var tenant: String?
        var name: String?
        var labels: Labels
        var length: Int64

        init(_ record: StoredRecord) {
            kind = record.kind
            tenant = record.tenantID
            length = 0
            labels = .empty
            name = nil
            switch record {
            case .record(.metric(let m)): name = m.name; labels = m.labels
            case .record(.cache(let c)): name = c.cache; labels = c.labels
            case .record(.performance(let p)): labels = p.labels
            case .record(.tokenUsage(let t)): name = t.model; labels = t.labels
            case .record(.visit(let v)): labels = v.labels
            case .output(.window(let w)): name = w.series.name; labels = w.series.labels; length = w.span.length.microseconds
            case .output(.cacheWindow(let w)): name = w.cache; labels = w.labels; length = w.span.length.microseconds
            case .output(.visitsWindow(let w)): length = w.span.length.microseconds
            case .output(.anomaly(let a)): name = a.series.name; labels = a.series.labels; length = 0
            case .output: break
            }
        }
    }

    /// Strings referenced by index; index 0 is "absent".
    struct Dictionary {
        var indices: [String: Int] = [:]
        var strings: [String] = []

        mutating func ref(_ s: String?) -> Int {
            guard let s else { return 0 }
            if let i = indices[s] { return i + 1 }
            strings.append(s)
            indices[s] = strings.count - 1
            return strings.count
        }
    }

    /// Encodes records in one go (retention rewrites, tests); the writer builds blocks with
    /// `BlockBuilder` as records arrive.
    static func encode(_ records: [StoredRecord]) -> [UInt8] {
        var builder = BlockBuilder()
        for r in records { builder.add(r) }
        return builder.encode().payload
    }

    static func decode(_ payload: [UInt8]) throws(StoreError) -> [StoredRecord] {
        var r = ByteReader(payload)
        let stringCount = try r.count()
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount { strings.append(try r.string()) }
        func string(_ ref: Int) throws(StoreError) -> String? {
            if ref == 0 { return nil }
            guard ref <= strings.count else { throw .corrupt("string reference \(ref) out of range") }
            return strings[ref - 1]
        }
        func required(_ ref: Int) throws(StoreError) -> String {
            guard let s = try string(ref) else { throw .corrupt("missing string") }
            return s
        }
        var out: [StoredRecord] = []
        let groupCount = try r.count()
        for _ in 0..<groupCount {
            guard let kind = StoredRecord.Kind(rawValue: try r.u8()) else { throw .corrupt("unknown record kind") }
            let tenant = try string(try r.count())
            let name = try string(try r.count())
            let labelCount = try r.count(max: 1_000)
            var pairs: [Labels.Label] = []
            for _ in 0..<labelCount { pairs.append(.init(key: try required(try r.count()), value: try required(try r.count()))) }
            let labels = Labels(pairs)
            let length = try r.signed()
            let n = try r.count()
            let times = try TimeColumn.decode(n, from: &r).map { Timestamp(microseconds: $0) }
            switch kind {
            case .metric:
                let values = try FloatColumn.decode(n, from: &r)
                guard let name else { throw .corrupt("metric without a name") }
                for i in 0..<n { out.append(.record(.metric(MetricRecord(timestamp: times[i], tenantID: tenant, labels: labels, name: name, value: values[i])))) }
            case .cache:
                var counts: [(UInt64, UInt64)] = []
                for _ in 0..<n { counts.append((try r.varint(), try r.varint())) }
                var size: Int64 = 0
                for i in 0..<n {
                    size &+= try r.signed()
                    out.append(.record(.cache(CacheRecord(timestamp: times[i], tenantID: tenant, labels: labels, cache: name,
                                                          hits: counts[i].0, misses: counts[i].1, sizeKB: UInt64(bitPattern: size)))))
                }
            case .performance:
                var masks: [UInt8] = []
                for _ in 0..<n { masks.append(try r.u8()) }
                var columns: [[Double]] = []
                for bit in [UInt8(1), 2, 4] { columns.append(try FloatColumn.decode(masks.filter { $0 & bit != 0 }.count, from: &r)) }
                var next = [0, 0, 0]
                for i in 0..<n {
                    var values: [Double?] = [nil, nil, nil]
                    for (c, bit) in [UInt8(1), 2, 4].enumerated() where masks[i] & bit != 0 {
                        values[c] = columns[c][next[c]]
                        next[c] += 1
                    }
                    out.append(.record(.performance(PerformanceRecord(timestamp: times[i], tenantID: tenant, labels: labels,
                                                                      responseTime: values[0], dbQueryTime: values[1], memoryUsage: values[2]))))
                }
            case .tokenUsage:
                guard let tenant, let name else { throw .corrupt("token usage without tenant or model") }
                for i in 0..<n {
                    let prompt = try r.varint(), completion = try r.varint(), cached = try r.varint()
                    let request = try required(try r.count())
                    out.append(.record(.tokenUsage(TokenUsageRecord(timestamp: times[i], tenantID: tenant, labels: labels, model: name,
                                                                    promptTokens: prompt, completionTokens: completion, cachedTokens: cached, requestID: request))))
                }
            case .visit:
                for i in 0..<n {
                    let visitor = try required(try r.count())
                    let path = try string(try r.count())
                    out.append(.record(.visit(VisitRecord(timestamp: times[i], tenantID: tenant, labels: labels, visitorID: visitor, path: path))))
                }
            case .window:
                var counts: [UInt64] = []
                for _ in 0..<n { counts.append(try r.varint()) }
                var columns: [[Double]] = []
                for _ in 0..<7 { columns.append(try FloatColumn.decode(n, from: &r)) }
                let series = SeriesKey(tenantID: tenant, name: name ?? "", labels: labels)
                for i in 0..<n {
                    out.append(.output(.window(WindowSummary(
                        span: WindowSpan(length: WindowDuration(microseconds: length), start: times[i]), series: series, count: counts[i],
                        sum: columns[0][i], min: columns[1][i], max: columns[2][i],
                        p50: columns[3][i], p90: columns[4][i], p95: columns[5][i], p99: columns[6][i]))))
                }
            case .cacheWindow:
                for i in 0..<n {
                    let hits = try r.varint(), misses = try r.varint(), size = try r.varint()
                    out.append(.output(.cacheWindow(CacheWindowSummary(span: WindowSpan(length: WindowDuration(microseconds: length), start: times[i]),
                                                                       tenantID: tenant, cache: name, labels: labels, hits: hits, misses: misses, sizeKB: size))))
                }
            case .visitsWindow:
                for i in 0..<n {
                    let visits = try r.varint(), unique = try r.varint()
                    out.append(.output(.visitsWindow(VisitsWindowSummary(span: WindowSpan(length: WindowDuration(microseconds: length), start: times[i]),
                                                                         tenantID: tenant, visits: visits, uniqueVisitors: unique))))
                }
            case .anomaly:
                var text: [(String, String)] = []
                for _ in 0..<n { text.append((try required(try r.count()), try required(try r.count()))) }
                let values = try FloatColumn.decode(n, from: &r), expected = try FloatColumn.decode(n, from: &r), scores = try FloatColumn.decode(n, from: &r)
                let series = SeriesKey(tenantID: tenant, name: name ?? "", labels: labels)
                for i in 0..<n {
                    out.append(.output(.anomaly(Anomaly(timestamp: times[i], series: series, statistic: text[i].0, value: values[i],
                                                        expected: expected[i], score: scores[i], reason: text[i].1))))
                }
            }
        }
        guard r.isAtEnd else { throw .corrupt("\(r.remaining) unexpected bytes after the last group") }
        return out
    }
}
