import SluiceModel
import SluicePipeline

/// Builds one block's columns as records arrive, so that flushing only has to serialise them:
/// no record is copied. A metric sample the window aggregator numbered (`StoredSample`) finds
/// its group by that number, without the record being read; any other metric record whose
/// labels are interned finds it through a `SeriesLookupCache` instead of by hashing its key.
///
/// Metric samples, the bulk of most streams, are kept as flat rows (group, time, value) in
/// arrival order: one append to one array per sample, where filling the group's own columns
/// would touch a thousand arrays spread over memory. `encode()`, which runs off the writer's
/// task, sorts them by group into a scratch copy (`Gathered`) and writes each group from its
/// slice; it changes nothing, so the writer and the encoder may share a builder without either
/// copying its groups. Only compaction, which appends decoded groups, moves rows into columns
/// (`gather()`).
struct BlockBuilder {
    /// One series' columns (FORMAT.md, "Payload"): what is encoded, and what decoding yields.
    struct Group {
        let key: BlockCodec.GroupKey
        var times: [Int64] = []
        var floats: [[Double]]
        var unsigned: [UInt64] = []
        /// Strings per record (request ids, visitor ids and paths, anomaly texts).
        var texts: [String?] = []
        var masks: [UInt8] = []
        /// A `window` group's sketches, one per record (`nil`: stored before format 2).
        var sketches: [DDSketch?] = []
        /// A `window` group's exact sums, one per record (`nil` where the sketch is).
        var exactSums: [ExactSum?] = []
        /// A `visits_window` group's visitor sketches, one per record.
        var visitors: [HyperLogLog?] = []

        init(key: BlockCodec.GroupKey) {
            self.key = key
            let columns: Int
            switch key.kind {
            case .metric: columns = 1
            case .performance, .anomaly: columns = 3
            case .window: columns = 7
            default: columns = 0
            }
            floats = Array(repeating: [], count: columns)
        }
    }

    /// The groups in order of first appearance. A metric group's columns lack the samples still
    /// in `rows` until `gather()`.
    private(set) var groups: [Group] = []
    /// A metric sample waiting for its group's columns.
    struct Row {
        var group: Int32
        var time: Int64
        var value: Double
    }

    private var rows: [Row] = []
    /// The groups of other kinds than `metric`, by key.
    private var index: [BlockCodec.GroupKey: Int] = [:]
    /// Metric series are numbered by key, and the numbers outlive blocks (`handOff()`), so a
    /// series seen in an earlier block finds its group in this one by indexing `series.groups`:
    /// no key is hashed unless the lookup cache does not know the series' storage. Metric
    /// groups are found this way only, never through `index`.
    private var series = MetricSeries()
    /// How many metric series are numbered.
    var numberedSeries: Int { series.keys.count }
    private var block: UInt32 = 0
    private(set) var count = 0

    struct MetricSeries {
        /// Each series' number, by key; at most `limit` once a block is done.
        var numbers: [BlockCodec.GroupKey: Int32] = [:]
        /// By number: the key.
        var keys: [BlockCodec.GroupKey] = []
        /// By number: the series' group in block `block` (stale for an earlier block).
        var groups: [(group: Int32, block: UInt32)] = []
        /// The number by the identity of the key's storage, as the decoder shares it.
        var cache = SeriesLookupCache<Int32>()
        /// The window aggregator's series, by its number (`StoreBatch.seriesKeys`): their keys,
        /// and each one's number here, -1 until it is needed. Kept when the numbers here start
        /// over, as the aggregator's never do.
        var aggregatorKeys: [SeriesKey] = []
        var byAggregator: [Int32] = []
        static let limit = 1 << 16

        /// The number of the series with `key`, numbered now if it is new.
        mutating func number(_ key: BlockCodec.GroupKey) -> Int32 {
            if let n = numbers[key] { return n }
            let n = Int32(keys.count)
            numbers[key] = n
            keys.append(key)
            groups.append((-1, 0))
            return n
        }

        /// The number of the aggregator's series `id`; `nil` for a number it has not given.
        @inline(__always)
        mutating func number(aggregator id: Int32) -> Int32? {
            let i = Int(id)
            guard i < byAggregator.count else { return nil }
            let known = byAggregator[i]
            if known >= 0 { return known }
            let key = aggregatorKeys[i]
            let n = number(BlockCodec.GroupKey(metric: key))
            byAggregator[i] = n
            return n
        }

        mutating func removeAll() {
            numbers.removeAll()
            keys.removeAll()
            groups.removeAll()
            cache.removeAll()
            for i in byAggregator.indices { byAggregator[i] = -1 }
        }
    }

    /// Answers to keyed requests whose records are in this block (FORMAT.md, "Receipts").
    var receipts: [IngestReceipt] = []

    /// Nothing to write: no record and no receipt (a receipt's records may all be histogram
    /// points, which are not kept raw, and its block still has to carry it).
    var isEmpty: Bool { count == 0 && receipts.isEmpty }

    /// The group of a record of any kind but `metric` (see `metricGroup(_:)`), made if new.
    private mutating func group(for record: StoredRecord) -> Int {
        let key = BlockCodec.GroupKey(record)
        assert(key.kind != .metric, "metric groups are found by series number")
        if let g = index[key] { return g }
        groups.append(Group(key: key))
        index[key] = groups.count - 1
        return groups.count - 1
    }

    /// A metric sample of a series this block has seen, as the row `add(_: Row)` takes; `nil`
    /// for any other record, which `add(_: Record)` takes.
    ///
    /// The record is borrowed: reading it where it lies copies nothing. A copy, which passing
    /// it to a mutating method makes, retains and releases its strings and labels, whose
    /// counts the aggregator's core is changing for the same record at the same time.
    func knownSample(_ record: borrowing Record) -> Row? {
        switch record {
        case .metric(let m):
            guard let n = series.cache.find(tenantID: m.tenantID, name: m.name, labels: m.labels).value else { return nil }
            let known = series.groups[Int(n)]
            guard known.block == block, known.group >= 0 else { return nil }
            return Row(group: known.group, time: m.timestamp.microseconds, value: m.value)
        default:
            return nil
        }
    }

    /// Adds a batch of records, in order, borrowing each where it lies (see `knownSample`):
    /// iterating the array would copy every record.
    mutating func add(_ records: UnsafeBufferPointer<Record>) {
        for i in records.indices {
            if let row = knownSample(records[i]) { add(row) } else { add(records[i]) }
        }
    }

    /// Takes the keys of the series the aggregator numbered since its last batch.
    mutating func learn(_ keys: [SeriesKey]) {
        guard !keys.isEmpty else { return }
        series.aggregatorKeys += keys
        series.byAggregator += repeatElement(-1, count: keys.count)
    }

    /// Adds a batch of records the window aggregator took, with what it found for each
    /// (`StoredSample`): a numbered metric sample is added from the sample alone, without its
    /// record being read.
    mutating func add(_ records: UnsafeBufferPointer<Record>, samples: UnsafeBufferPointer<StoredSample>) {
        for i in records.indices {
            let sample = samples[i]
            if sample.series >= 0, let n = series.number(aggregator: sample.series) {
                add(Row(group: metricGroup(n), time: sample.time, value: sample.value))
            } else if sample.series != StoredSample.skipped {
                add(records[i])
            }
        }
    }

    /// Adds a metric sample `knownSample` found the group of.
    mutating func add(_ row: Row) {
        count += 1
        rows.append(row)
    }

    /// Adds a raw record.
    mutating func add(_ record: Record) {
        count += 1
        switch record {
        case .metric(let m):
            let (probe, cached) = series.cache.find(tenantID: m.tenantID, name: m.name, labels: m.labels)
            let n: Int32
            if let cached {
                n = cached
            } else {
                // Storage the cache does not know: the key decides (another storage of the same
                // key has the same number).
                n = series.number(BlockCodec.GroupKey(.record(record)))
                series.cache.fill(probe, tenantID: m.tenantID, name: m.name, labels: m.labels, value: n)
            }
            rows.append(Row(group: metricGroup(n), time: m.timestamp.microseconds, value: m.value))
        case .cache(let c):
            let g = group(for: .record(record))
            groups[g].times.append(c.timestamp.microseconds)
            groups[g].unsigned.append(contentsOf: [c.hits, c.misses, c.sizeKB])
        case .performance(let p):
            let g = group(for: .record(record))
            groups[g].times.append(p.timestamp.microseconds)
            groups[g].masks.append((p.responseTime != nil ? 1 : 0) | (p.dbQueryTime != nil ? 2 : 0) | (p.memoryUsage != nil ? 4 : 0))
            if let v = p.responseTime { groups[g].floats[0].append(v) }
            if let v = p.dbQueryTime { groups[g].floats[1].append(v) }
            if let v = p.memoryUsage { groups[g].floats[2].append(v) }
        case .tokenUsage(let t):
            let g = group(for: .record(record))
            groups[g].times.append(t.timestamp.microseconds)
            groups[g].unsigned.append(contentsOf: [t.promptTokens, t.completionTokens, t.cachedTokens])
            groups[g].texts.append(t.requestID)
        case .visit(let v):
            let g = group(for: .record(record))
            groups[g].times.append(v.timestamp.microseconds)
            groups[g].texts.append(contentsOf: [v.visitorID, v.path])
        }
    }

    /// The group of metric series `n` in this block, made if it has none yet.
    private mutating func metricGroup(_ n: Int32) -> Int32 {
        let known = series.groups[Int(n)]
        if known.block == block, known.group >= 0 { return known.group }
        let g = Int32(truncatingIfNeeded: groups.count)
        groups.append(Group(key: series.keys[Int(n)]))
        series.groups[Int(n)] = (g, block)
        return g
    }

    /// Adds an aggregate or anomaly; other outputs are not stored.
    mutating func add(_ output: OutputRecord) {
        guard let stored = StoredRecord(output) else { return }
        count += 1
        let g = group(for: stored)
        groups[g].times.append(stored.timestamp.microseconds)
        switch output {
        case .window(let w):
            groups[g].unsigned.append(w.count)
            for (c, v) in [w.sum, w.min, w.max, w.p50, w.p90, w.p95, w.p99].enumerated() { groups[g].floats[c].append(v) }
            groups[g].sketches.append(w.sketch)
            groups[g].exactSums.append(w.sketch == nil ? nil : w.exactSum)
        case .cacheWindow(let w):
            groups[g].unsigned.append(contentsOf: [w.hits, w.misses, w.sizeKB])
        case .visitsWindow(let w):
            groups[g].unsigned.append(contentsOf: [w.visits, w.uniqueVisitors])
            groups[g].visitors.append(w.visitors)
        case .anomaly(let a):
            groups[g].texts.append(contentsOf: [a.statistic, a.reason])
            groups[g].floats[0].append(a.value)
            groups[g].floats[1].append(a.expected)
            groups[g].floats[2].append(a.score)
        default:
            break
        }
    }

    mutating func add(_ stored: StoredRecord) {
        switch stored {
        case .record(let r): add(r)
        case .output(let o): add(o)
        }
    }

    /// The metric samples held as rows, sorted by group with each group's in arrival order:
    /// group `g`'s are `times[starts[g]..<starts[g + 1]]` and the same range of `values`.
    struct Gathered {
        var times: [Int64] = []
        var values: [Double] = []
        var starts: [Int]

        /// A counting sort by group, every place written once.
        init(_ rows: [Row], groups: Int) {
            starts = [Int](repeating: 0, count: groups + 1)
            guard !rows.isEmpty else { return }
            let n = rows.count
            var values: [Double] = []
            times = [Int64](unsafeUninitializedCapacity: n) { times, timesWritten in
                values = [Double](unsafeUninitializedCapacity: n) { values, valuesWritten in
                    rows.withUnsafeBufferPointer { rows in
                        starts.withUnsafeMutableBufferPointer { starts in
                            for row in rows { starts[Int(row.group) + 1] += 1 }
                            for g in 0..<groups { starts[g + 1] += starts[g] }
                            // Where each group's next sample goes: its start, then one on.
                            let next = UnsafeMutableBufferPointer<Int>.allocate(capacity: groups)
                            defer { next.deallocate() }
                            _ = next.initialize(from: starts[0..<groups])
                            for row in rows {
                                let g = Int(row.group)
                                let at = next[g]
                                next[g] = at + 1
                                times.initializeElement(at: at, to: row.time)
                                values.initializeElement(at: at, to: row.value)
                            }
                        }
                    }
                    valuesWritten = n
                }
                timesWritten = n
            }
            self.values = values
        }

        func range(_ g: Int) -> Range<Int> { starts[g]..<starts[g + 1] }
    }

    /// Moves the metric samples held as rows into their groups' columns, keeping each group's
    /// samples in arrival order (before a decoded group is appended after them).
    mutating func gather() {
        guard !rows.isEmpty else { return }
        let gathered = Gathered(rows, groups: groups.count)
        for g in groups.indices where !gathered.range(g).isEmpty {
            groups[g].times += gathered.times[gathered.range(g)]
            groups[g].floats[0] += gathered.values[gathered.range(g)]
        }
        rows.removeAll(keepingCapacity: true)
    }

    /// Appends a decoded group's columns (compaction merges blocks this way).
    mutating func append(_ other: Group) {
        gather()
        let g: Int
        if other.key.kind == .metric {
            g = Int(metricGroup(series.number(other.key)))
        } else if let existing = index[other.key] {
            g = existing
        } else {
            groups.append(Group(key: other.key))
            g = groups.count - 1
            index[other.key] = g
        }
        count += other.times.count
        groups[g].times += other.times
        for c in other.floats.indices { groups[g].floats[c] += other.floats[c] }
        groups[g].unsigned += other.unsigned
        groups[g].texts += other.texts
        groups[g].masks += other.masks
        groups[g].sketches += other.sketches
        groups[g].exactSums += other.exactSums
        groups[g].visitors += other.visitors
    }

    /// The payload (FORMAT.md) and the summary of everything added. Changes nothing: the
    /// samples still held as rows are encoded from a sorted copy, never moved into their
    /// groups' columns (which would copy every group of a builder that is shared).
    func encode() -> (payload: [UInt8], summary: BlockSummary) {
        let gathered = Gathered(rows, groups: groups.count)
        var dictionary = BlockCodec.Dictionary()
        var body = ByteWriter(capacity: count * 6)
        body.varint(groups.count)
        // Each group is borrowed where it lies: a copy would retain and release all its columns.
        var extents: [Extent] = []
        extents.reserveCapacity(groups.count)
        var floats = FloatColumn.Scratch()
        gathered.times.withUnsafeBufferPointer { times in
            gathered.values.withUnsafeBufferPointer { values in
                for g in groups.indices {
                    let r = gathered.range(g)
                    let samples = (UnsafeBufferPointer(rebasing: times[r]), UnsafeBufferPointer(rebasing: values[r]))
                    extents.append(Self.encode(groups[g], samples: samples, dictionary: &dictionary, floats: &floats, into: &body))
                }
            }
        }
        var out = ByteWriter(capacity: body.bytes.count + dictionary.strings.count * 12)
        out.varint(dictionary.strings.count)
        for s in dictionary.strings { out.string(s) }
        out.raw(body.bytes)
        return (out.bytes, summary(extents))
    }

    /// How many records a group holds and their least and greatest time, for the summary.
    struct Extent {
        var count: Int
        var least: Int64
        var greatest: Int64
    }

    /// Writes one group, with a metric group's `samples` still held as rows after its columns.
    private static func encode(
        _ group: borrowing Group, samples: (times: UnsafeBufferPointer<Int64>, values: UnsafeBufferPointer<Double>),
        dictionary: inout BlockCodec.Dictionary, floats scratch: inout FloatColumn.Scratch, into body: inout ByteWriter
    ) -> Extent {
        let key = group.key
        body.u8(key.kind.rawValue)
        body.varint(dictionary.ref(key.tenant))
        body.varint(dictionary.ref(key.name))
        body.varint(key.labels.count)
        for label in key.labels {
            body.varint(dictionary.ref(label.key))
            body.varint(dictionary.ref(label.value))
        }
        body.signed(key.length)
        if key.kind == .metric {
            // The writer's groups have rows only; a compacted block's have columns only.
            let n = group.times.count + samples.times.count
            body.varint(n)
            if group.times.isEmpty {
                let range = TimeColumn.encode(samples.times, into: &body)
                FloatColumn.encode(samples.values, into: &body, scratch: &scratch)
                return Extent(count: n, least: range.least, greatest: range.greatest)
            }
            let times = group.times + samples.times, values = group.floats[0] + samples.values
            let range = times.withUnsafeBufferPointer { TimeColumn.encode($0, into: &body) }
            FloatColumn.encode(values, into: &body, scratch: &scratch)
            return Extent(count: n, least: range.least, greatest: range.greatest)
        }
        let n = group.times.count
        body.varint(n)
        let range = TimeColumn.encode(group.times, into: &body)
        switch key.kind {
        case .metric, .performance:
            if key.kind == .performance { for i in 0..<n { body.u8(group.masks[i]) } }
            for c in group.floats.indices { FloatColumn.encode(group.floats[c], into: &body, scratch: &scratch) }
        case .cache:
            for i in 0..<n { body.varint(group.unsigned[3 * i]); body.varint(group.unsigned[3 * i + 1]) }
            var previous: Int64 = 0
            for i in 0..<n {
                let size = Int64(bitPattern: group.unsigned[3 * i + 2])
                body.signed(size &- previous)
                previous = size
            }
        case .tokenUsage:
            for i in 0..<n {
                body.varint(group.unsigned[3 * i]); body.varint(group.unsigned[3 * i + 1]); body.varint(group.unsigned[3 * i + 2])
                body.varint(dictionary.ref(group.texts[i]))
            }
        case .visit:
            for i in group.texts.indices { body.varint(dictionary.ref(group.texts[i])) }
        case .window:
            for i in group.unsigned.indices { body.varint(group.unsigned[i]) }
            for c in 0..<3 { FloatColumn.encode(group.floats[c], into: &body, scratch: &scratch) }
            // Percentiles are stored only for windows without a sketch; the others
            // recompute theirs from the sketch, which is what every merge needs anyway.
            // Bit 1: a sketch; bit 2: its exact sum after it.
            for i in 0..<n { body.u8(group.sketches[i] == nil ? 0 : group.exactSums[i] == nil ? 1 : 3) }
            let bare = (0..<n).filter { group.sketches[$0] == nil }
            let minimum = bare.map { group.floats[1][$0] }, maximum = bare.map { group.floats[2][$0] }
            for c in 3..<7 {
                QuantileColumn.encode(bare.map { group.floats[c][$0] }, minimum: minimum, maximum: maximum, into: &body)
            }
            var sketches = BinaryWriter()
            for i in 0..<n {
                guard let s = group.sketches[i] else { continue }
                s.encode(into: &sketches)
                group.exactSums[i]?.encode(into: &sketches)
            }
            body.raw(sketches.bytes)
        case .cacheWindow:
            for i in group.unsigned.indices { body.varint(group.unsigned[i]) }
        case .visitsWindow:
            for i in group.unsigned.indices { body.varint(group.unsigned[i]) }
            for i in 0..<n { body.u8(group.visitors[i] == nil ? 0 : 1) }
            var visitors = BinaryWriter()
            for i in 0..<n { group.visitors[i]?.encode(into: &visitors) }
            body.raw(visitors.bytes)
        case .anomaly:
            for i in group.texts.indices { body.varint(dictionary.ref(group.texts[i])) }
            for c in group.floats.indices { FloatColumn.encode(group.floats[c], into: &body, scratch: &scratch) }
        }
        return Extent(count: n, least: range.least, greatest: range.greatest)
    }

    /// The summary, given each group's extent (`encode` finds them).
    private func summary(_ extents: [Extent]) -> BlockSummary {
        var entries: [BlockSummary.Entry] = []
        var position: [BlockCodec.GroupKey: Int] = [:]
        var names: [String] = []
        for g in groups.indices {
            let key = BlockCodec.GroupKey(kind: groups[g].key.kind, tenant: groups[g].key.tenant)
            let (n, lo, hi) = (UInt32(extents[g].count), extents[g].least, extents[g].greatest)
            if let i = position[key] {
                entries[i].count += n
                entries[i].minTime = min(entries[i].minTime, lo)
                entries[i].maxTime = max(entries[i].maxTime, hi)
            } else {
                position[key] = entries.count
                entries.append(.init(kind: key.kind, tenantID: key.tenant, count: n, minTime: lo, maxTime: hi))
            }
            if key.kind == .performance {
                names += ["response_time", "db_query_time", "memory_usage"]
            } else if let name = groups[g].key.name {
                names.append(name)
            }
        }
        return BlockSummary(entries: entries, names: names, receipts: receipts)
    }

    /// An empty builder for the next block that takes over the series this one has seen, so a
    /// steady stream finds its groups by identity from the first record of every block. This
    /// builder keeps its groups (to be encoded) and forgets the series.
    mutating func handOff() -> BlockBuilder {
        var next = BlockBuilder()
        swap(&next.series, &series)
        // Room for as many samples as this block took: a block of 65,536 would otherwise grow
        // its rows by doubling, copying them 16 times.
        next.rows.reserveCapacity(rows.count)
        next.block = block &+ 1
        next.forgetSeriesIfDue()
        return next
    }

    /// Between blocks: starts the series' numbers over once there are more than `limit` (a
    /// stream of ever-new series costs a renumbering now and then, not memory), and after 2³²
    /// blocks, where a stale group could look current.
    private mutating func forgetSeriesIfDue() {
        if series.keys.count > MetricSeries.limit || block == 0 { series.removeAll() }
    }

    /// Empties the builder for the next block, keeping its capacity.
    mutating func reset() {
        groups.removeAll(keepingCapacity: true)
        rows.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        block &+= 1
        forgetSeriesIfDue()
        count = 0
        receipts.removeAll()
    }
}
