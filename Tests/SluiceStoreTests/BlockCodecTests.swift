import Testing
import SluiceModel
import SluicePipeline
@testable import SluiceStore

@Suite("Block codec")
struct BlockCodecTests {
    static let t0: Int64 = 1_795_514_400_000_000

    static func sample() -> [StoredRecord] {
        var out: [StoredRecord] = []
        for i in 0..<500 {
            let ts = Timestamp(microseconds: t0 + Int64(i) * 10_000_000)
            out.append(.record(.metric(MetricRecord(timestamp: ts, tenantID: "t\(i % 3)", labels: ["host": "h\(i % 5)"], name: "cpu", value: Double(i % 97) * 0.25))))
            out.append(.record(.metric(MetricRecord(timestamp: ts, tenantID: nil, name: "ratio", value: 1 / Double(i + 1)))))
            if i % 7 == 0 {
                out.append(.record(.performance(PerformanceRecord(timestamp: ts, tenantID: "t1", labels: ["route": "/a"], responseTime: Double(i), dbQueryTime: i % 2 == 0 ? 1.5 : nil))))
                out.append(.record(.cache(CacheRecord(timestamp: ts, tenantID: "t1", cache: i % 2 == 0 ? "lru" : nil, hits: UInt64(i), misses: 3, sizeKB: UInt64(1000 - i)))))
                out.append(.record(.tokenUsage(TokenUsageRecord(timestamp: ts, tenantID: "t2", model: "gpt-4o", promptTokens: 100, completionTokens: UInt64(i), cachedTokens: 7, requestID: "r\(i)"))))
                out.append(.record(.visit(VisitRecord(timestamp: ts, tenantID: "site", visitorID: "v\(i % 11)", path: i % 2 == 0 ? "/p" : nil))))
            }
        }
        let span = WindowSpan(length: .minutes(1), start: Timestamp(microseconds: t0))
        out.append(.output(.window(WindowSummary(span: span, series: SeriesKey(tenantID: "t", name: "m", labels: ["a": "b"]), count: 3, sum: 6.5, min: -1, max: 4.25, p50: 2, p90: 4, p95: 4.2, p99: 4.25))))
        out.append(.output(.cacheWindow(CacheWindowSummary(span: span, tenantID: nil, cache: "c", labels: .empty, hits: 9, misses: 1, sizeKB: 4))))
        out.append(.output(.visitsWindow(VisitsWindowSummary(span: span, tenantID: "s", visits: 10, uniqueVisitors: 7))))
        out.append(.output(.anomaly(Anomaly(timestamp: span.end, series: SeriesKey(tenantID: "t", name: "m"), statistic: "p99", value: 840, expected: 120, score: 0.97, reason: "p99 m 840, expected 120 ± 35", window: .minutes(1)))))
        // As stored before anomalies kept their window length.
        out.append(.output(.anomaly(Anomaly(timestamp: span.end, series: SeriesKey(tenantID: "t", name: "m"), statistic: "mean", value: 84, expected: 12, score: 0.9, reason: "mean m 84, expected 12 ± 3"))))
        return out
    }

    @Test("every record comes back equal, floats bit-exact, after encode, compress and frame")
    func roundTrip() throws {
        let records = Self.sample()
        let (frame, summary) = try BlockFrame.build(records, level: 3)
        let header = try #require(BlockFrame.header(frame))
        #expect(BlockFrame.checksumMatches(frame, header))
        let decoded = try BlockFrame.records(frame, header, version: SegmentFile.version)
        #expect(Set(decoded) == Set(records))
        #expect(decoded.count == records.count)
        #expect(summary.recordCount == records.count)
        #expect(summary.mayContain(name: "cpu") && summary.mayContain(name: "response_time"))
    }

    @Test("one compressor kept across blocks of every size and level frames each as a fresh one does")
    func keptCompressor() throws {
        let compressor = try Zstd.Compressor()
        var random = SeededRandom(seed: 5)
        let all = Self.sample()
        // Large, small, empty of records, then large again: the kept buffer shrinks for none.
        for (count, level) in [(all.count, 1), (3, 3), (0, 1), (all.count / 2, 19), (all.count, -1)] {
            let records = Array(all.shuffled(using: &random).prefix(count))
            var builder = BlockBuilder()
            for r in records { builder.add(r) }
            let kept = try BlockFrame.build(builder, level: Int32(level), compressor: compressor).bytes
            #expect(try BlockFrame.build(builder, level: Int32(level)).bytes == kept, "\(count) records at level \(level)")
            let header = try #require(BlockFrame.header(kept))
            #expect(BlockFrame.checksumMatches(kept, header))
            #expect(header.payloadLength == kept.count - BlockFrame.headerBytes - header.summaryLength)
            #expect(Set(try BlockFrame.records(kept, header, version: SegmentFile.version)) == Set(records))
        }
    }

    @Test("a block's summary states each kind and tenant's count and time range, whatever the arrival order")
    func summaryRanges() throws {
        var random = SeededRandom(seed: 11)
        let records = Self.sample().shuffled(using: &random)
        let (_, summary) = try BlockFrame.build(records, level: 1)
        struct Key: Hashable { var kind: StoredRecord.Kind; var tenant: String? }
        var expected: [Key: (count: UInt32, least: Int64, greatest: Int64)] = [:]
        for r in records {
            let t = r.timestamp.microseconds
            let old = expected[Key(kind: r.kind, tenant: r.tenantID)] ?? (0, .max, .min)
            expected[Key(kind: r.kind, tenant: r.tenantID)] = (old.count + 1, min(old.least, t), max(old.greatest, t))
        }
        #expect(summary.entries.count == expected.count)
        for entry in summary.entries {
            let want = try #require(expected[Key(kind: entry.kind, tenant: entry.tenantID)])
            #expect(entry.count == want.count && entry.minTime == want.least && entry.maxTime == want.greatest, "\(entry.kind) \(entry.tenantID ?? "-")")
        }
    }

    @Test("blocks built one after another, each handing its series on, hold exactly their own records, one group a series; samples of known series added as rows make the same bytes")
    func handedOffBuilders() throws {
        // Labels shared as the decoder's intern table shares them, and one record in three with
        // equal labels in storage of its own.
        let shared: [Labels] = (0..<5).map { ["host": "h\($0)"] }
        var random = SeededRandom(seed: 7)
        var builder = BlockBuilder()
        // The writer's way: a sample of a series the block has seen goes in as a row.
        var writers = BlockBuilder()
        var rows = 0
        // The writer's batches, of several sizes.
        var batched = BlockBuilder()
        let batchSizes = [1, 7, 8, 9, 40, 300]
        for block in 0..<4 {
            var added: [StoredRecord] = []
            var records: [Record] = []
            for i in 0..<300 {
                let host = Int(random.next() % 5)
                let labels = random.next() % 3 == 0 ? Labels(shared[host].map { $0 }) : shared[host]
                let record = Record.metric(MetricRecord(
                    timestamp: Timestamp(microseconds: Self.t0 + Int64(block * 300 + i) * 1_000), tenantID: i % 2 == 0 ? "t0" : nil,
                    labels: labels, name: block % 2 == 0 ? "cpu" : "http_server_request_duration_seconds", value: Double(i)))
                builder.add(record)
                if let row = writers.knownSample(record) {
                    writers.add(row)
                    rows += 1
                } else {
                    writers.add(record)
                }
                added.append(.record(record))
                records.append(record)
            }
            var start = 0
            while start < records.count {
                let end = min(records.count, start + batchSizes[(block + start) % batchSizes.count])
                records[start..<end].withUnsafeBufferPointer { batched.add($0) }
                start = end
            }
            #expect(builder.groups.count == 10)
            let (frame, _) = try BlockFrame.build(builder, level: 1)
            let header = try #require(BlockFrame.header(frame))
            let decoded = try BlockFrame.records(frame, header, version: SegmentFile.version)
            #expect(decoded.count == added.count)
            #expect(Set(decoded) == Set(added), "block \(block)")
            #expect(try BlockFrame.build(writers, level: 1).bytes == frame, "block \(block)")
            #expect(try BlockFrame.build(batched, level: 1).bytes == frame, "block \(block), in batches")
            builder = builder.handOff()
            writers = writers.handOff()
            batched = batched.handOff()
            #expect(builder.isEmpty)
        }
        #expect(rows > 600, "most samples are of series already seen")
    }

    @Test("past the series limit the builder numbers series afresh at a block boundary; each block still holds its own records, one group a series")
    func seriesRenumbered() throws {
        let many = BlockBuilder.MetricSeries.limit + 100
        var builder = BlockBuilder()
        for block in 0..<3 {
            // Block 0: more series than the limit; then a few of them again, and one new.
            let hosts = block == 0 ? Array(0..<many) : [0, 1, 2, many - 1, many + block]
            var added: [StoredRecord] = []
            for (i, host) in (hosts + hosts.reversed()).enumerated() {
                let record = Record.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.t0 + Int64(i)), tenantID: "t",
                                                        labels: ["host": "h\(host)"], name: "cpu", value: Double(i)))
                if let row = builder.knownSample(record) { builder.add(row) } else { builder.add(record) }
                added.append(.record(record))
            }
            #expect(builder.groups.count == hosts.count, "block \(block)")
            let (frame, _) = try BlockFrame.build(builder, level: 1)
            let header = try #require(BlockFrame.header(frame))
            let decoded = try BlockFrame.records(frame, header, version: SegmentFile.version)
            #expect(decoded.count == added.count)
            #expect(Set(decoded) == Set(added), "block \(block)")
            builder = builder.handOff()
            // Over the limit after the first block, so forgotten; a handful after the others.
            #expect(builder.numberedSeries == (block == 0 ? 0 : 4 + block), "after block \(block)")
        }
    }

    @Test("records with the samples the window aggregator found for them make the bytes the records alone make, through a renumbering; histogram points are not kept raw")
    func aggregatorSamples() throws {
        let many = BlockBuilder.MetricSeries.limit + 100
        let shared: [Labels] = (0..<many + 10).map { ["host": "h\($0)"] }
        var random = SeededRandom(seed: 5)
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .minutes(10)))
        var keysSent = 0
        // The oracle: every stored record added by itself, histogram points left out.
        var oracle = BlockBuilder()
        var builder = BlockBuilder()
        var numbered = 0
        for block in 0..<4 {
            // Block 1 has more series than the limit, so the builder's numbers start over after it.
            let hosts = block == 1 ? Array(0..<many) : (0..<2_000).map { _ in Int(random.next() % 50) }
            var records: [Record] = []
            for (i, host) in hosts.enumerated() {
                let t = Timestamp(microseconds: Self.t0 + Int64(block * 100_000 + i) * 1_000)
                // Labels shared as the decoder shares them, and now and then in storage of their own.
                let labels = random.next() % 7 == 0 ? Labels(shared[host].map { $0 }) : shared[host]
                // Block 1's are all samples, a series each.
                switch block == 1 ? 2 : random.next() % 20 {
                case 0:
                    records.append(.cache(CacheRecord(timestamp: t, tenantID: "t", labels: labels, cache: "c", hits: 1, misses: 2, sizeKB: 3)))
                case 1:
                    var sketch = DDSketch()
                    sketch.add(Double(i), count: 3)
                    records.append(.metric(MetricRecord(timestamp: t, tenantID: "t", labels: labels, name: "cpu",
                                                        distribution: Distribution(sketch: sketch, sum: Double(3 * i), bucketError: 0))))
                default:
                    records.append(.metric(MetricRecord(timestamp: t, tenantID: block != 1 && i % 3 == 0 ? nil : "t", labels: labels,
                                                        name: block != 1 && i % 2 == 0 ? "mem" : "cpu", value: Double(i) * 0.5)))
                }
            }
            // The aggregator's batches, of several sizes, as the writer gets them.
            var start = 0
            while start < records.count {
                let end = min(records.count, start + [1, 9, 64, 500, 4_096][(block + start) % 5])
                var events: [StageEvent] = []
                var stored: [StoredSample] = []
                records[start..<end].withUnsafeBufferPointer { machine.take($0, into: &events, stored: &stored) }
                #expect(stored.count == end - start)
                numbered += stored.filter { $0.series >= 0 }.count
                builder.learn(Array(machine.registry.keys[keysSent...]))
                keysSent = machine.registry.count
                records[start..<end].withUnsafeBufferPointer { r in stored.withUnsafeBufferPointer { builder.add(r, samples: $0) } }
                start = end
            }
            for record in records {
                if case .metric(let m) = record, m.hasDistribution { continue }
                oracle.add(record)
            }
            #expect(builder.count == oracle.count, "block \(block)")
            let (frame, _) = try BlockFrame.build(oracle, level: 1)
            #expect(try BlockFrame.build(builder, level: 1).bytes == frame, "block \(block)")
            oracle = oracle.handOff()
            builder = builder.handOff()
            #expect(builder.numberedSeries == oracle.numberedSeries, "after block \(block)")
            // Over the limit after block 1, so forgotten.
            if block == 1 { #expect(builder.numberedSeries == 0) }
        }
        #expect(numbered > 4_000, "the samples of series seen before are numbered")
    }

    @Test("metric samples keep each series' arrival order and groups their first appearance, with other kinds and merged groups between them")
    func metricOrder() throws {
        let shared: [Labels] = (0..<40).map { ["host": "h\($0)"] }
        var random = SeededRandom(seed: 11)
        var builder = BlockBuilder()
        // Per group key (first appearance order), the times and values as added.
        var expected: [(key: String, times: [Int64], values: [Double])] = []
        func note(_ key: String, _ time: Int64, _ value: Double) {
            if let i = expected.firstIndex(where: { $0.key == key }) {
                expected[i].times.append(time)
                expected[i].values.append(value)
            } else {
                expected.append((key, [time], [value]))
            }
        }
        for i in 0..<5_000 {
            let host = Int(random.next() % 40)
            // Out of order in time, as late samples arrive.
            let time = Self.t0 + Int64(i) * 1_000 - Int64(random.next() % 5) * 7_000
            let value = Double(random.next() % 10_000) / 8
            builder.add(Record.metric(MetricRecord(timestamp: Timestamp(microseconds: time), tenantID: "t", labels: shared[host], name: "cpu", value: value)))
            note("cpu h\(host)", time, value)
            if i % 500 == 499 {
                builder.add(Record.cache(CacheRecord(timestamp: Timestamp(microseconds: time), tenantID: "t", cache: "lru", hits: 1, misses: 2, sizeKB: 3)))
                // A decoded group merged in (as compaction does) lands after the samples before it.
                var group = BlockBuilder.Group(key: BlockCodec.GroupKey(.record(.metric(MetricRecord(
                    timestamp: Timestamp(microseconds: 0), tenantID: "t", labels: shared[0], name: "cpu", value: 0)))))
                group.times = [time + 1]
                group.floats[0] = [-Double(i)]
                builder.append(group)
                note("cpu h0", time + 1, -Double(i))
            }
        }
        let (payload, summary) = builder.encode()
        #expect(summary.recordCount == 5_000 + 10 + 10)
        let metrics = try BlockCodec.decodeGroups(payload).filter { $0.key.kind == .metric }
        #expect(metrics.map { "\($0.key.name!) \($0.key.labels["host"]!)" } == expected.map(\.key))
        for (group, want) in zip(metrics, expected) {
            #expect(group.times == want.times, "\(want.key)")
            #expect(group.floats[0].map(\.bitPattern) == want.values.map(\.bitPattern), "\(want.key)")
        }
    }

    @Test("floats of every kind round-trip bit for bit", arguments: [
        [0.0, 1.5, 2.25, 100.125], [-0.0, 1.0], [0.1, 0.2, 0.30000000000000004], [1e300, -1e-300, .leastNonzeroMagnitude],
        [73.967, 12.345678, 0.000001], [Double.greatestFiniteMagnitude, 123456789.123], [3.141592653589793],
        [51.846000000000004, 48.56800000000001, 53.403999999999996, 44.508], [-0.0, 0.0, -0.0], [1 / 3.0, 2 / 3.0, 0.1],
        [(0.1 as Double).nextDown, (0.2 as Double).nextUp, -7.5], [1e-300, Double.leastNormalMagnitude.nextDown],
    ])
    func floats(values: [Double]) throws {
        var w = ByteWriter()
        FloatColumn.encode(values, into: &w)
        var r = ByteReader(w.bytes)
        let back = try FloatColumn.decode(values.count, from: &r)
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test("short decimals, with or without binary noise, are stored at their decimal scale")
    func decimalScale() {
        #expect(FloatColumn.decimalScale([1, 2, 3]) == 0)
        #expect(FloatColumn.decimalScale([1.5, 2.25]) == 2)
        #expect(FloatColumn.decimalScale([73.967, 0.001]) == 3)
        // 51.846000000000004 is the double after 51.846: scale 3 and a correction of one ULP.
        #expect(FloatColumn.decimalScale([51.846000000000004, 44.508]) == 3)
        #expect(FloatColumn.decimalScale([1e300]) == nil)
    }

    @Test("a column of noisy decimals costs little more than the clean decimals")
    func noisyDecimals() throws {
        let clean = (0..<1_000).map { Double($0 % 97) * 0.013 + 40 }
        let noisy = clean.enumerated().map { $0.offset % 4 == 0 ? $0.element.nextUp : $0.element }
        var a = ByteWriter(), b = ByteWriter()
        FloatColumn.encode(clean, into: &a)
        FloatColumn.encode(noisy, into: &b)
        #expect(b.bytes.count < a.bytes.count + noisy.count + 1)
        var r = ByteReader(b.bytes)
        #expect(try FloatColumn.decode(noisy.count, from: &r).map(\.bitPattern) == noisy.map(\.bitPattern))
    }

    @Test("timestamps round-trip in the coarsest unit that divides them all: seconds, milliseconds or microseconds", arguments: [
        (Int64(1_000_000), UInt8(2)), (Int64(1_000), UInt8(1)), (Int64(1), UInt8(0)),
    ])
    func timestamps(step: Int64, unit: UInt8) throws {
        var random = SeededRandom(seed: UInt64(step))
        for count in [1, 2, 3, 65, 1_000] {
            // Around the epoch and 2026, negative ones included, out of order, in multiples of
            // `step` and (but for microseconds) one value that is not a multiple of a coarser unit.
            let base: Int64 = count % 2 == 0 ? 1_795_600_000_000_000 : -3_000_000
            var times = (0..<count).map { _ in base + Int64(random.next() % 10_000) * step - 5_000 * step }
            if step > 1, count > 1 { times[count / 2] += step / 1_000 == 1 ? 1 : step / 1_000 }
            // The rule restated: the coarsest unit every timestamp is a whole number of.
            let expected = UInt8([2, 1, 0].first { u in times.allSatisfy { $0 % Self.unitMicroseconds[u] == 0 } }!)
            if count > 3 { #expect(expected == (step > 1 ? unit - 1 : unit)) }
            var w = ByteWriter()
            let range = TimeColumn.encode(times, into: &w)
            #expect(range.least == times.min() && range.greatest == times.max())
            #expect(w.bytes.first == expected, "\(count) times in steps of \(step) µs")
            var r = ByteReader(w.bytes)
            #expect(try TimeColumn.decode(times.count, from: &r) == times)
        }
    }

    static let unitMicroseconds: [Int64] = [1, 1_000, 1_000_000]

    @Test("a flipped bit anywhere in a frame is caught by its checksum")
    func bitFlips() throws {
        let (frame, _) = try BlockFrame.build(Self.sample(), level: 3)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var damaged = frame
            let i = Int.random(in: 0..<frame.count, using: &random)
            damaged[i] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            if let header = BlockFrame.header(damaged), header.frameLength == damaged.count {
                // The whole-frame CRC and the summary CRC between them cover every byte.
                let summaryPart = Array(damaged[0..<(BlockFrame.headerBytes + header.summaryLength)])
                let intact = BlockFrame.checksumMatches(damaged, header) && BlockFrame.summaryChecksumMatches(summaryPart, header)
                #expect(!intact, "flip at \(i) not detected")
            }
        }
    }

    /// Found by the `block` fuzz target (Fuzz/Corpus/block/regression-string-count): a damaged
    /// count made `verify` reserve gigabytes before finding that the block ends.
    @Test("a count larger than the bytes left in a block is refused before memory is reserved for it", arguments: [
        // 220,298,484 strings in a 4-byte payload.
        ([0xF4, 0xF9, 0x85, 0x69], "count 220298484 out of range"),
        // One metric group of 2^28 records, its string "m" its only other content.
        ([0x01, 0x01, 0x6D, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x01], "count 268435456 out of range"),
    ] as [([UInt8], String)])
    func countsBeyondThePayload(payload: [UInt8], message: String) {
        #expect(throws: StoreError.corrupt(message)) { try BlockCodec.decode(payload) }
    }

    /// Found by the `segment` fuzz target (Fuzz/Corpus/segment/regression-header-raw-length): a
    /// header whose checksums match but whose raw length is wrong made the reader allocate and
    /// clear 592 MB for a block of a few hundred bytes, for long enough to stall `verify`.
    @Test("a block whose header states another raw length than its zstd frame is refused before it is allocated")
    func rawLengthDisagreesWithFrame() throws {
        var (frame, _) = try BlockFrame.build(Array(Self.sample().prefix(3)), level: 3)
        let lying: UInt32 = 620_765_440
        withUnsafeBytes(of: lying.littleEndian) { frame.replaceSubrange(16..<20, with: $0) }
        // Checksums recomputed as the writer computes them, so only the length is wrong.
        let summaryLength = Int(UInt32(frame[8]) | UInt32(frame[9]) << 8 | UInt32(frame[10]) << 16 | UInt32(frame[11]) << 24)
        let summaryEnd = BlockFrame.headerBytes + summaryLength
        let summaryCRC = CRC32C.checksum(Array(frame[BlockFrame.headerBytes..<summaryEnd]), seed: CRC32C.checksum(Array(frame[0..<36])))
        let crc = CRC32C.checksum(Array(frame[summaryEnd...]), seed: summaryCRC)
        withUnsafeBytes(of: crc.littleEndian) { frame.replaceSubrange(36..<40, with: $0) }
        withUnsafeBytes(of: summaryCRC.littleEndian) { frame.replaceSubrange(40..<44, with: $0) }
        let header = try #require(BlockFrame.header(frame))
        #expect(BlockFrame.checksumMatches(frame, header))
        #expect(throws: StoreError.corrupt("zstd frame does not state the 620765440 bytes the block header says it holds")) {
            try BlockFrame.records(frame, header, version: SegmentFile.version)
        }
    }
}
