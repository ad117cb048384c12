import Testing
import SluiceModel
import SluiceTesting
@testable import SluiceStore

/// A read merges blocks in time order one block at a time: it yields what loading everything
/// and sorting would, never reads a block its summary or time range rules out, and holds only
/// the blocks whose time ranges overlap.
@Suite("Streaming reads")
struct StreamingReadTests {
    static let t0 = StoreTestSupport.t0

    static func at(_ seconds: Int64) -> Timestamp { Timestamp(microseconds: t0 + seconds * 1_000_000) }

    static func metric(_ seconds: Int64, _ name: String = "m", tenant: String? = "a", value: Double = 1) -> StoredRecord {
        .record(.metric(MetricRecord(timestamp: at(seconds), tenantID: tenant, name: name, value: value)))
    }

    static func window(_ seconds: Int64, _ name: String, length: WindowDuration, tenant: String?, seed: Int) -> StoredRecord {
        var sketch = DDSketch()
        for i in 0..<5 { sketch.add(Double(seed % 97 + i) * 1.5) }
        let span = WindowSpan(length: length, containing: at(seconds))
        return .output(.window(WindowSummary(span: span, series: SeriesKey(tenantID: tenant, name: name), sketch: sketch, sum: { var e = ExactSum(); e.add(Double(seed)); return e }())))
    }

    /// Writes each segment's blocks as given, one frame per block, and seals every segment
    /// (with `lastOpen`, all but the last, which stays being written).
    static func store(_ segments: [[[StoredRecord]]], lastOpen: Bool = false) throws -> DataDirectory {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-stream"), create: true)
        for (i, blocks) in segments.enumerated() {
            let appender = try directory.createSegment()
            for block in blocks { try appender.append(try BlockFrame.build(block, level: 1).bytes) }
            if lastOpen && i == segments.count - 1 { try appender.sync() } else { _ = try appender.seal() }
        }
        return directory
    }

    /// The order records sit in on disk: segment, block, and within a block each series'
    /// records together, series in the order they first came, records in the order they came.
    static func storedOrder(_ segments: [[[StoredRecord]]]) -> [StoredRecord] {
        segments.flatMap { blocks in
            blocks.flatMap { block in
                var series: [BlockCodec.GroupKey] = []
                var records: [BlockCodec.GroupKey: [StoredRecord]] = [:]
                for r in block {
                    let key = BlockCodec.GroupKey(r)
                    if records[key] == nil { series.append(key) }
                    records[key, default: []].append(r)
                }
                return series.flatMap { records[$0]! }
            }
        }
    }

    /// The oracle: every stored record `wanted` accepts, stably sorted by timestamp.
    static func expected(_ segments: [[[StoredRecord]]], _ wanted: (StoredRecord) -> Bool) -> [StoredRecord] {
        storedOrder(segments).enumerated().filter { wanted($0.element) }
            .sorted { $0.element.timestamp != $1.element.timestamp ? $0.element.timestamp < $1.element.timestamp : $0.offset < $1.offset }
            .map(\.element)
    }

    /// Four segments of five blocks: metrics and 1m/5m windows of two tenants (and none),
    /// timestamps on whole seconds (many ties), blocks overlapping their neighbours, and one
    /// record in ten late by up to five minutes.
    static func shuffledWorkload(seed: UInt64) -> [[[StoredRecord]]] {
        var random = SeededRandom(seed: seed)
        var seq = 0
        return (0..<4).map { s in
            (0..<5).map { b in
                let base = Int64((s * 5 + b) * 30)
                return (0..<60).map { _ in
                    seq += 1
                    let late = random.next() % 10 == 0
                    let t = late ? base - Int64(random.next() % 300) : base + Int64(random.next() % 45)
                    let tenant = ["a", "b", nil][Int(random.next() % 3)]
                    switch random.next() % 4 {
                    case 0: return window(t, "w\(random.next() % 2)", length: random.next() % 2 == 0 ? .minutes(1) : .minutes(5), tenant: tenant, seed: seq)
                    default: return metric(t, "m\(random.next() % 3)", tenant: tenant, value: Double(seq) * 0.25)
                    }
                }
            }
        }
    }

    static func read(_ directory: DataDirectory, _ query: StoreQuery) throws -> (records: [StoredRecord], statistics: StoreReader.ReadStatistics) {
        var statistics = StoreReader.ReadStatistics()
        var records: [StoredRecord] = []
        try StoreReader(directory: directory).forEach(query, statistics: &statistics) { records.append($0) }
        return (records, statistics)
    }

    typealias Case = (query: StoreQuery, wanted: @Sendable (StoredRecord) -> Bool)

    static let cases: [Case] = [
        (StoreQuery(), { _ in true }),
        (StoreQuery(kinds: [.metric]), { $0.kind == .metric }),
        (StoreQuery(tenantID: "b"), { $0.tenantID == "b" }),
        (StoreQuery(metric: "m1"), { $0.name == "m1" }),
        (StoreQuery(from: at(100), to: at(400)), { $0.timestamp >= at(100) && $0.timestamp < at(400) }),
        (StoreQuery(kinds: [.window], tenantID: "a", metric: "w0", from: at(200)), {
            $0.kind == .window && $0.tenantID == "a" && $0.name == "w0" && $0.timestamp >= at(200)
        }),
        (StoreQuery(windowLength: .minutes(5)), {
            if case .output(.window(let w)) = $0 { w.span.length == .minutes(5) } else { false }
        }),
    ]

    @Test("forEach yields exactly the matching records, stably sorted by time, across segments, blocks and late records", arguments: 0..<cases.count)
    func matchesOracle(_ index: Int) throws {
        let segments = Self.shuffledWorkload(seed: 7 + UInt64(index))
        let directory = try Self.store(segments, lastOpen: index % 2 == 1)
        let (query, wanted) = Self.cases[index]
        let expected = Self.expected(segments, wanted)
        #expect(!expected.isEmpty)
        let (records, statistics) = try Self.read(directory, query)
        #expect(records == expected)
        #expect(statistics.records == expected.count)
        #expect(try StoreReader(directory: directory).records(query) == expected)
    }

    @Test("blocks ruled out by time range, tenant or series name are never read: their damaged payloads go unnoticed")
    func skippedBlocksAreNotRead() throws {
        let wanted = [Self.metric(10, "cpu"), Self.metric(11, "cpu"), Self.metric(20, "cpu")]
        let directory = try Self.store([[
            [wanted[0], wanted[1]],
            [Self.metric(1_000, "cpu"), Self.metric(1_001, "cpu")],   // after `to`
            [Self.metric(12, "cpu", tenant: "b")],                    // another tenant
            [Self.metric(13, "disk")],                                // another series
        ], [
            [Self.metric(-500, "cpu")],                               // before `from`
            [wanted[2]],
        ]])
        let segments = try directory.segments()
        try #require(!segments[0].scan(verify: false).blocks[3].summary.mayContain(name: "cpu"), "the name filter must rule the `disk` block out")
        for (segment, damaged) in [(segments[0], [1, 2, 3]), (segments[1], [0])] {
            let blocks = try segment.scan(verify: false).blocks
            var bytes = try #require(TestFiles.read(segment.path))
            for b in damaged { bytes[blocks[b].offset + blocks[b].length - 5] ^= 0xFF }
            TestFiles.write(segment.path, bytes)
        }
        let query = StoreQuery(tenantID: "a", metric: "cpu", from: Self.at(0), to: Self.at(100))
        let (records, statistics) = try Self.read(directory, query)
        #expect(records == wanted)
        #expect(statistics.blocks == 6 && statistics.skippedBlocks == 4 && statistics.decodedBlocks == 2)
        // Reaching a damaged block does throw.
        #expect(throws: StoreError.self) { try StoreReader(directory: directory).records(StoreQuery(tenantID: "b")) }
    }

    @Test("with blocks that never overlap in time, a read holds one decoded block at a time")
    func oneBlockAtATime() throws {
        // Twenty blocks in two segments, each a minute after the one before, each read once.
        let blocks: [[StoredRecord]] = (0..<20).map { (b: Int) -> [StoredRecord] in
            (0..<30).map { (i: Int) -> StoredRecord in Self.metric(Int64(b * 60 + i), "m\(i % 3)", value: Double(i)) }
        }
        let segments = [Array(blocks[0..<10]), Array(blocks[10...])]
        let directory = try Self.store(segments)
        let (records, statistics) = try Self.read(directory, StoreQuery())
        #expect(records == Self.expected(segments) { _ in true })
        #expect(statistics.decodedBlocks == 20)
        #expect(statistics.peakDecodedBlocks == 1)
    }

    @Test("with blocks that overlap in time, a read holds as many decoded blocks as overlap")
    func heldBlocksFollowOverlap() throws {
        // Block i covers [10i, 10i + 25]: at any time at most three blocks overlap.
        let blocks = (0..<12).map { i in (0...25).map { s in Self.metric(Int64(10 * i + s), value: Double(i)) } }
        let directory = try Self.store([Array(blocks[0..<6]), Array(blocks[6...])])
        let (records, statistics) = try Self.read(directory, StoreQuery())
        #expect(records == Self.expected([Array(blocks[0..<6]), Array(blocks[6...])]) { _ in true })
        #expect(statistics.peakDecodedBlocks == 3)
        // A narrow range decodes only the blocks it overlaps: [30, 55], [40, 65] and [50, 75].
        let narrow = try Self.read(directory, StoreQuery(from: Self.at(55), to: Self.at(60)))
        #expect(narrow.statistics.decodedBlocks == 3)
        #expect(narrow.records.map(\.timestamp) == [55, 55, 55, 56, 56, 57, 57, 58, 58, 59, 59].map { Self.at($0) })
    }

    @Test("combined answers equal combining the whole answer at once: a window's parts become one record where its first part was")
    func combinedParts() throws {
        // A window stored in three parts across segments (a restart split it), among other records.
        let segments: [[[StoredRecord]]] = [
            [[Self.metric(0), Self.window(0, "w", length: .minutes(1), tenant: "a", seed: 1), Self.metric(60)]],
            [[Self.window(0, "w", length: .minutes(1), tenant: "a", seed: 2), Self.window(0, "v", length: .minutes(1), tenant: "a", seed: 3)],
             [Self.metric(30), Self.window(60, "w", length: .minutes(1), tenant: "a", seed: 4)]],
            [[Self.window(0, "w", length: .minutes(1), tenant: "a", seed: 5), Self.metric(0, "late")]],
        ]
        let directory = try Self.store(segments)
        let all = Self.expected(segments) { _ in true }
        let combined = StoreReader.combiningWindowParts(all)
        #expect(combined.count == all.count - 2)
        #expect(try StoreReader(directory: directory).combinedRecords(StoreQuery()) == combined)
    }

    @Test("a read over more segments than it keeps open opens each when the merge reaches it, and closes it after")
    func segmentsOpenedWhenReached() throws {
        let segments = (0..<40).map { s in [[Self.metric(Int64(s) * 10), Self.metric(Int64(s) * 10 + 5)]] }
        let directory = try Self.store(segments)
        var reader = StoreReader(directory: directory)
        reader.heldSegmentLimit = 4
        var statistics = StoreReader.ReadStatistics()
        var records: [StoredRecord] = []
        try reader.forEach(StoreQuery(), statistics: &statistics) { records.append($0) }
        #expect(records == Self.expected(segments) { _ in true })
        // The four held from the scan, and the one being scanned.
        #expect(statistics.peakOpenSegments == 5)
    }

    /// Three sealed segments of one block each, ten seconds apart, and what replaces the last
    /// one during a read: a segment holding one record named `replaced`.
    static func replacedDuringRead(heldSegmentLimit: Int, delete: Bool = false) throws -> [StoredRecord] {
        let directory = try Self.store([[[Self.metric(0)]], [[Self.metric(10)]], [[Self.metric(20)]]])
        let other = try #require(try Self.store([[[Self.metric(20, "replaced")]]]).segments().first)
        let replacement = try #require(TestFiles.read(other.path))
        let last = try #require(try directory.segments().last)
        var reader = StoreReader(directory: directory)
        reader.heldSegmentLimit = heldSegmentLimit
        var records: [StoredRecord] = []
        try reader.forEach(StoreQuery()) { r throws(StoreError) in
            if records.isEmpty {
                if delete {
                    try FileIO.remove(last.path)
                } else {
                    TestFiles.write(last.path + ".tmp", replacement)
                    try FileIO.rename(last.path + ".tmp", last.path)
                }
            }
            records.append(r)
        }
        return records
    }

    @Test("retention replacing or deleting a segment during a read: unseen while the read holds it, otherwise a rewrite fails the read and a deletion skips it")
    func segmentReplacedDuringRead() throws {
        #expect(try Self.replacedDuringRead(heldSegmentLimit: 64) == [Self.metric(0), Self.metric(10), Self.metric(20)])
        #expect(try Self.replacedDuringRead(heldSegmentLimit: 64, delete: true) == [Self.metric(0), Self.metric(10), Self.metric(20)])
        let error = #expect(throws: StoreError.self) { try Self.replacedDuringRead(heldSegmentLimit: 1) }
        #expect(error?.message.contains("run the query again") == true)
        #expect(try Self.replacedDuringRead(heldSegmentLimit: 1, delete: true) == [Self.metric(0), Self.metric(10)])
    }

    @Test("a damaged sealed segment fails the read before any record, and says how to repair it")
    func damagedSealedSegment() throws {
        let directory = try Self.store([[[Self.metric(1)], [Self.metric(2)]], [[Self.metric(3)]]])
        let last = try #require(try directory.segments().last)
        var bytes = try #require(TestFiles.read(last.path))
        bytes.removeLast(7)
        TestFiles.write(last.path, bytes)
        var seen = 0
        let error = #expect(throws: StoreError.self) { try StoreReader(directory: directory).forEach(StoreQuery()) { _ in seen += 1 } }
        #expect(seen == 0)
        #expect(error?.isCorruption == true)
        #expect(error?.message.contains("sluice verify --data-dir \(directory.path) --repair") == true)
    }

    @Test("a segment being written reads up to its last whole block; one whose sealed copy exists is read once")
    func openSegments() throws {
        let directory = try Self.store([[[Self.metric(1)], [Self.metric(2)]], [[Self.metric(3)], [Self.metric(4)]]], lastOpen: true)
        let open = try #require(try directory.segments().last)
        var bytes = try #require(TestFiles.read(open.path))
        // A torn tail: half a frame being appended.
        TestFiles.write(open.path, bytes + Array(bytes[16..<40]))
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 4)
        // Compaction wrote the sealed copy and has not yet removed the open file.
        bytes = try #require(TestFiles.read(open.path))
        TestFiles.write(SegmentFile(id: open.id, sealed: true, directory: open.directory).path, Array(bytes[0..<(bytes.count - 24)]))
        #expect(try StoreReader(directory: directory).records(StoreQuery()).map(\.timestamp) == (1...4).map { Self.at($0) })
    }
}
