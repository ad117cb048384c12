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

    static func encode(_ records: [StoredRecord]) -> [UInt8] {
        var order: [GroupKey] = []
        var groups: [GroupKey: [StoredRecord]] = [:]
        for r in records {
            let key = GroupKey(r)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        var dictionary = Dictionary()
        var body = ByteWriter(capacity: records.count * 8)
        body.varint(order.count)
        for key in order {
            let members = groups[key]!
            body.u8(key.kind.rawValue)
            body.varint(dictionary.ref(key.tenant))
            body.varint(dictionary.ref(key.name))
            body.varint(key.labels.count)
            for label in key.labels {
                body.varint(dictionary.ref(label.key))
                body.varint(dictionary.ref(label.value))
            }
            body.signed(key.length)
            body.varint(members.count)
            encodeColumns(key.kind, members, &body, &dictionary)
        }
        var out = ByteWriter(capacity: body.bytes.count + dictionary.strings.count * 12)
        out.varint(dictionary.strings.count)
        for s in dictionary.strings { out.string(s) }
        out.raw(body.bytes)
        return out.bytes
    }

    private static func encodeColumns(_ kind: StoredRecord.Kind, _ members: [StoredRecord], _ w: inout ByteWriter, _ d: inout Dictionary) {
        TimeColumn.encode(members.map(\.timestamp.microseconds), into: &w)
        switch kind {
        case .metric:
            FloatColumn.encode(members.map { if case .record(.metric(let m)) = $0 { m.value } else { 0 } }, into: &w)
        case .cache:
            let caches = members.compactMap { if case .record(.cache(let c)) = $0 { c } else { nil } }
            for c in caches { w.varint(c.hits); w.varint(c.misses) }
            var previous: Int64 = 0
            for c in caches { w.signed(Int64(bitPattern: c.sizeKB) &- previous); previous = Int64(bitPattern: c.sizeKB) }
        case .performance:
            let perf = members.compactMap { if case .record(.performance(let p)) = $0 { p } else { nil } }
            for p in perf { w.u8((p.responseTime != nil ? 1 : 0) | (p.dbQueryTime != nil ? 2 : 0) | (p.memoryUsage != nil ? 4 : 0)) }
            FloatColumn.encode(perf.compactMap(\.responseTime), into: &w)
            FloatColumn.encode(perf.compactMap(\.dbQueryTime), into: &w)
            FloatColumn.encode(perf.compactMap(\.memoryUsage), into: &w)
        case .tokenUsage:
            for case .record(.tokenUsage(let t)) in members {
                w.varint(t.promptTokens); w.varint(t.completionTokens); w.varint(t.cachedTokens)
                w.varint(d.ref(t.requestID))
            }
        case .visit:
            for case .record(.visit(let v)) in members {
                w.varint(d.ref(v.visitorID)); w.varint(d.ref(v.path))
            }
        case .window:
            let windows = members.compactMap { if case .output(.window(let x)) = $0 { x } else { nil } }
            for x in windows { w.varint(x.count) }
            for column in [\WindowSummary.sum, \.min, \.max, \.p50, \.p90, \.p95, \.p99] {
                FloatColumn.encode(windows.map { $0[keyPath: column] }, into: &w)
            }
        case .cacheWindow:
            for case .output(.cacheWindow(let x)) in members { w.varint(x.hits); w.varint(x.misses); w.varint(x.sizeKB) }
        case .visitsWindow:
            for case .output(.visitsWindow(let x)) in members { w.varint(x.visits); w.varint(x.uniqueVisitors) }
        case .anomaly:
            let anomalies = members.compactMap { if case .output(.anomaly(let a)) = $0 { a } else { nil } }
            for a in anomalies { w.varint(d.ref(a.statistic)); w.varint(d.ref(a.reason)) }
            FloatColumn.encode(anomalies.map(\.value), into: &w)
            FloatColumn.encode(anomalies.map(\.expected), into: &w)
            FloatColumn.encode(anomalies.map(\.score), into: &w)
        }
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
