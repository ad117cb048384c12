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

        /// A metric series' group.
        init(metric key: SeriesKey) {
            kind = .metric
            tenant = key.tenantID
            name = key.name
            labels = key.labels
            length = 0
        }

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
            case .output(.anomaly(let a)): name = a.series.name; labels = a.series.labels; length = a.window?.microseconds ?? 0
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

    static func decode(_ payload: [UInt8], version: UInt8 = SegmentFile.version) throws(StoreError) -> [StoredRecord] {
        var out: [StoredRecord] = []
        for group in try decodeGroups(payload, version: version) { group.appendRecords(to: &out) }
        return out
    }

    /// Reads a payload of segment format `version` back into its groups' columns.
    static func decodeGroups(_ payload: [UInt8], version: UInt8 = SegmentFile.version) throws(StoreError) -> [BlockBuilder.Group] {
        var r = ByteReader(payload)
        // Counts are bounded by the bytes left (each string and each record takes at least one),
        // so a damaged count is refused before it reserves memory for what cannot be there.
        let stringCount = try r.count(max: r.remaining)
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
        var groups: [BlockBuilder.Group] = []
        let groupCount = try r.count()
        for _ in 0..<groupCount {
            guard let kind = StoredRecord.Kind(rawValue: try r.u8()) else { throw .corrupt("unknown record kind") }
            let tenant = try string(try r.count())
            let name = try string(try r.count())
            let labelCount = try r.count(max: 1_000)
            var pairs: [Labels.Label] = []
            for _ in 0..<labelCount { pairs.append(.init(key: try required(try r.count()), value: try required(try r.count()))) }
            let key = GroupKey(kind: kind, tenant: tenant, name: name, labels: Labels(pairs), length: try r.signed())
            switch kind {
            case .metric: guard name != nil else { throw .corrupt("metric without a name") }
            case .tokenUsage: guard tenant != nil, name != nil else { throw .corrupt("token usage without tenant or model") }
            default: break
            }
            var g = BlockBuilder.Group(key: key)
            let n = try r.count(max: r.remaining)
            g.times = try TimeColumn.decode(n, from: &r)
            switch kind {
            case .metric:
                g.floats[0] = try FloatColumn.decode(n, from: &r)
            case .cache:
                var counts: [UInt64] = []
                for _ in 0..<(2 * n) { counts.append(try r.varint()) }
                var size: Int64 = 0
                for i in 0..<n {
                    size &+= try r.signed()
                    g.unsigned += [counts[2 * i], counts[2 * i + 1], UInt64(bitPattern: size)]
                }
            case .performance:
                for _ in 0..<n { g.masks.append(try r.u8()) }
                for (c, bit) in [UInt8(1), 2, 4].enumerated() {
                    g.floats[c] = try FloatColumn.decode(g.masks.filter { $0 & bit != 0 }.count, from: &r)
                }
            case .tokenUsage:
                for _ in 0..<n {
                    g.unsigned += [try r.varint(), try r.varint(), try r.varint()]
                    g.texts.append(try required(try r.count()))
                }
            case .visit:
                for _ in 0..<n {
                    g.texts.append(try required(try r.count()))
                    g.texts.append(try string(try r.count()))
                }
            case .window:
                for _ in 0..<n { g.unsigned.append(try r.varint()) }
                for c in 0..<3 { g.floats[c] = try FloatColumn.decode(n, from: &r) }
                try decodeWindowSketches(&g, n, version: version, from: &r)
            case .cacheWindow:
                for _ in 0..<(3 * n) { g.unsigned.append(try r.varint()) }
            case .visitsWindow:
                for _ in 0..<(2 * n) { g.unsigned.append(try r.varint()) }
                g.visitors = Array(repeating: nil, count: n)
                if version >= 2 {
                    let present = try presence(n, from: &r)
                    for i in present { g.visitors[i] = try sketch(from: &r) { (reader: inout BinaryReader) throws(BinaryDecodingError) in try HyperLogLog(decoding: &reader) } }
                }
            case .anomaly:
                for _ in 0..<n {
                    g.texts.append(try required(try r.count()))
                    g.texts.append(try required(try r.count()))
                }
                for c in 0..<3 { g.floats[c] = try FloatColumn.decode(n, from: &r) }
            }
            groups.append(g)
        }
        guard r.isAtEnd else { throw .corrupt("\(r.remaining) unexpected bytes after the last group") }
        return groups
    }
}

extension BlockCodec {
    /// A window group's percentiles and sketches. Format 1 has percentile columns for every
    /// window; format 2 has a presence byte per window, percentile columns for the windows
    /// without a sketch, then the sketches.
    static func decodeWindowSketches(_ g: inout BlockBuilder.Group, _ n: Int, version: UInt8, from r: inout ByteReader) throws(StoreError) {
        g.sketches = Array(repeating: nil, count: n)
        g.exactSums = Array(repeating: nil, count: n)
        guard version >= 2 else {
            for c in 3..<7 { g.floats[c] = try QuantileColumn.decode(n, minimum: g.floats[1], maximum: g.floats[2], from: &r) }
            return
        }
        var flags: [UInt8] = []
        for _ in 0..<n {
            let flag = try r.u8()
            guard flag == 0 || flag == 1 || flag == 3 else { throw .corrupt("window flags \(flag) are not 0, 1 or 3") }
            flags.append(flag)
        }
        let bare = (0..<n).filter { flags[$0] == 0 }
        let minimum = bare.map { g.floats[1][$0] }, maximum = bare.map { g.floats[2][$0] }
        var columns: [[Double]] = []
        for _ in 3..<7 { columns.append(try QuantileColumn.decode(bare.count, minimum: minimum, maximum: maximum, from: &r)) }
        for c in 3..<7 { g.floats[c] = Array(repeating: 0, count: n) }
        for (j, i) in bare.enumerated() { for c in 3..<7 { g.floats[c][i] = columns[c - 3][j] } }
        for i in 0..<n where flags[i] != 0 {
            let s = try sketch(from: &r) { (reader: inout BinaryReader) throws(BinaryDecodingError) in try DDSketch(decoding: &reader) }
            guard s.count == g.unsigned[i] else { throw .corrupt("a window counts \(g.unsigned[i]) values but its sketch \(s.count)") }
            g.sketches[i] = s
            for (c, q) in [0.50, 0.90, 0.95, 0.99].enumerated() { g.floats[3 + c][i] = s.quantile(q) ?? 0 }
            if flags[i] & 2 != 0 {
                let e = try sketch(from: &r) { (reader: inout BinaryReader) throws(BinaryDecodingError) in try ExactSum(decoding: &reader) }
                guard e.value.bitPattern == g.floats[0][i].bitPattern else { throw .corrupt("a window's exact sum \(e.value) is not its sum \(g.floats[0][i])") }
                g.exactSums[i] = e
            }
        }
    }

    /// The indices of the `n` records whose presence byte is 1.
    static func presence(_ n: Int, from r: inout ByteReader) throws(StoreError) -> [Int] {
        var present: [Int] = []
        for i in 0..<n {
            switch try r.u8() {
            case 0: continue
            case 1: present.append(i)
            case let flag: throw .corrupt("presence byte \(flag) is neither 0 nor 1")
            }
        }
        return present
    }

    /// A sketch encoded in place (its own layout, see `DDSketch+Bytes`, `HyperLogLog+Bytes`).
    static func sketch<S>(from r: inout ByteReader, _ decode: (inout BinaryReader) throws(BinaryDecodingError) -> S) throws(StoreError) -> S {
        var reader = BinaryReader(r.bytes, offset: r.offset)
        do {
            let s = try decode(&reader)
            r.offset = reader.offset
            return s
        } catch {
            throw .corrupt("a stored sketch does not decode: \(error)")
        }
    }
}

extension BlockBuilder.Group {
    /// The group's records, in the order they were added.
    func appendRecords(to out: inout [StoredRecord]) {
        let n = times.count
        let tenant = key.tenant, labels = key.labels, name = key.name
        let length = WindowDuration(microseconds: key.length)
        switch key.kind {
        case .metric:
            for i in 0..<n {
                out.append(.record(.metric(MetricRecord(timestamp: Timestamp(microseconds: times[i]), tenantID: tenant, labels: labels, name: name ?? "", value: floats[0][i]))))
            }
        case .cache:
            for i in 0..<n {
                out.append(.record(.cache(CacheRecord(timestamp: Timestamp(microseconds: times[i]), tenantID: tenant, labels: labels, cache: name,
                                                      hits: unsigned[3 * i], misses: unsigned[3 * i + 1], sizeKB: unsigned[3 * i + 2]))))
            }
        case .performance:
            var next = [0, 0, 0]
            for i in 0..<n {
                var values: [Double?] = [nil, nil, nil]
                for (c, bit) in [UInt8(1), 2, 4].enumerated() where masks[i] & bit != 0 {
                    values[c] = floats[c][next[c]]
                    next[c] += 1
                }
                out.append(.record(.performance(PerformanceRecord(timestamp: Timestamp(microseconds: times[i]), tenantID: tenant, labels: labels,
                                                                  responseTime: values[0], dbQueryTime: values[1], memoryUsage: values[2]))))
            }
        case .tokenUsage:
            for i in 0..<n {
                out.append(.record(.tokenUsage(TokenUsageRecord(timestamp: Timestamp(microseconds: times[i]), tenantID: tenant ?? "", labels: labels, model: name ?? "",
                                                                promptTokens: unsigned[3 * i], completionTokens: unsigned[3 * i + 1], cachedTokens: unsigned[3 * i + 2],
                                                                requestID: texts[i] ?? ""))))
            }
        case .visit:
            for i in 0..<n {
                out.append(.record(.visit(VisitRecord(timestamp: Timestamp(microseconds: times[i]), tenantID: tenant, labels: labels,
                                                      visitorID: texts[2 * i] ?? "", path: texts[2 * i + 1]))))
            }
        case .window:
            let series = SeriesKey(tenantID: tenant, name: name ?? "", labels: labels)
            for i in 0..<n {
                out.append(.output(.window(WindowSummary(
                    span: WindowSpan(length: length, start: Timestamp(microseconds: times[i])), series: series, count: unsigned[i],
                    sum: floats[0][i], min: floats[1][i], max: floats[2][i], p50: floats[3][i], p90: floats[4][i], p95: floats[5][i], p99: floats[6][i],
                    sketch: sketches[i], exactSum: exactSums[i]))))
            }
        case .cacheWindow:
            for i in 0..<n {
                out.append(.output(.cacheWindow(CacheWindowSummary(span: WindowSpan(length: length, start: Timestamp(microseconds: times[i])),
                                                                   tenantID: tenant, cache: name, labels: labels,
                                                                   hits: unsigned[3 * i], misses: unsigned[3 * i + 1], sizeKB: unsigned[3 * i + 2]))))
            }
        case .visitsWindow:
            for i in 0..<n {
                out.append(.output(.visitsWindow(VisitsWindowSummary(span: WindowSpan(length: length, start: Timestamp(microseconds: times[i])),
                                                                     tenantID: tenant, visits: unsigned[2 * i], uniqueVisitors: unsigned[2 * i + 1],
                                                                     visitors: visitors[i]))))
            }
        case .anomaly:
            let series = SeriesKey(tenantID: tenant, name: name ?? "", labels: labels)
            for i in 0..<n {
                out.append(.output(.anomaly(Anomaly(timestamp: Timestamp(microseconds: times[i]), series: series, statistic: texts[2 * i] ?? "",
                                                    value: floats[0][i], expected: floats[1][i], score: floats[2][i], reason: texts[2 * i + 1] ?? "",
                                                    window: key.length > 0 ? length : nil))))
            }
        }
    }
}

extension BlockCodec.GroupKey {
    init(kind: StoredRecord.Kind, tenant: String?, name: String?, labels: Labels, length: Int64) {
        self.kind = kind
        self.tenant = tenant
        self.name = name
        self.labels = labels
        self.length = length
    }
}
