import Testing
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// Receipts of keyed requests live in the block of their records: a crash keeps both or
/// neither, and compaction and retention rewrites carry them along.
@Suite("Idempotency receipts in the store")
struct ReceiptTests {
    static func receipt(_ key: String, scope: String = "t", time: Int64 = 1_000) -> IngestReceipt {
        IngestReceipt(scope: scope, key: key, time: time, status: 202, contentType: "application/json",
                      body: Array(#"{"accepted":2}"#.utf8) + [10])
    }

    static func batch(_ key: String, from i: Int) -> StoreBatch {
        StoreBatch(records: [StoreTestSupport.metric(i), StoreTestSupport.metric(i + 1)], receipts: [receipt(key)])
    }

    /// Runs a writer over `batches` (one block each) to its end; returns the directory.
    static func write(_ batches: [StoreBatch], compact: Bool) async throws -> DataDirectory {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        var configuration = SegmentWriter<ManualClock>.Configuration()
        configuration.flushRecords = 1
        configuration.compactRecords = compact ? 1 << 20 : 0
        let statistics = StoreStatistics()
        let writer = SegmentWriter(configuration: configuration, directory: directory, clock: ManualClock(), statistics: statistics) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 4)
        async let done: Void = writer.run(input: input)
        for b in batches { try await input.send(b) }
        input.finish()
        try await done
        if compact {
            // Its segment, sealed at its end, is compacted by the next writer, which waits for that before it ends.
            let none = BoundedChannel<StoreBatch>(capacity: 1)
            none.finish()
            try await SegmentWriter(configuration: configuration, directory: directory, clock: ManualClock(), statistics: statistics) { _ in }.run(input: none)
            #expect(statistics.compactedSegments == 1)
        }
        return directory
    }

    @Test("receipts come back from the block summaries, after sealing and after compaction merged the blocks")
    func roundTrip() async throws {
        for compact in [false, true] {
            let batches = (0..<3).map { Self.batch("k\($0)", from: 10 * $0) }
            let directory = try await Self.write(batches, compact: compact)
            let blocks = try directory.segments().flatMap { try $0.scan(verify: true).blocks }
            #expect(blocks.count == (compact ? 1 : 3))
            #expect(try directory.receipts(since: 0).map(\.key).sorted() == ["k0", "k1", "k2"])
            #expect(try directory.receipts(since: 0).allSatisfy { $0 == Self.receipt($0.key) })
            #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 6)
            #expect(try directory.receipts(since: 1_001).isEmpty, "older receipts than asked for are left out")
        }
    }

    @Test("a receipt whose records are all histogram points (not kept raw) still gets a block")
    func receiptWithoutRawRecords() async throws {
        let directory = try await Self.write([StoreBatch(records: [], receipts: [Self.receipt("only")])], compact: false)
        #expect(try directory.receipts(since: 0).map(\.key) == ["only"])
        #expect(try StoreReader(directory: directory).records(StoreQuery()).isEmpty)
    }

    @Test("a torn block loses its receipt with its records: after recovery neither is there")
    func tornBlock() throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let appender = try directory.createSegment()
        for (i, key) in ["a", "b"].enumerated() {
            var builder = BlockBuilder()
            for r in Self.batch(key, from: 10 * i).records { builder.add(r) }
            builder.receipts = [Self.receipt(key)]
            try appender.append(try BlockFrame.build(builder, level: 3).bytes)
        }
        try appender.sync()
        // The crash tore the last block: every length short of whole.
        let whole = appender.size
        let path = appender.file.path
        try FileIO.truncate(path, to: whole - 5)
        _ = try directory.recoverOpenSegments()
        #expect(try directory.receipts(since: 0).map(\.key) == ["a"])
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 2)
    }

    @Test("a retention rewrite keeps the receipts of the blocks it keeps")
    func retentionRewrite() async throws {
        // One block with an old and a new record: retention cuts the old one and rewrites it.
        let old = StoreTestSupport.metric(0, seconds: 0)
        let new = StoreTestSupport.metric(1, seconds: 40 * 86_400)
        let directory = try await Self.write([StoreBatch(records: [old, new], receipts: [Self.receipt("kept")])], compact: false)
        let policy = RetentionPolicy(try Configuration.parse(yaml: "retention:\n  max_age: {metric: 30d}\n").retention)
        let now = Timestamp(microseconds: StoreTestSupport.t0 + 45 * 86_400_000_000)
        let report = try RetentionPruner(directory: directory, policy: policy, segmentBytes: 1 << 20).prune(now: now)
        #expect(report.removedRecords == 1)
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 1)
        #expect(try directory.receipts(since: 0).map(\.key) == ["kept"])
    }

    @Test("a block without receipts has the summary readers before receipts wrote")
    func unchangedWithoutReceipts() throws {
        let records = [StoredRecord.record(StoreTestSupport.metric(1))]
        let (bytes, summary) = try BlockFrame.build(records, level: 3)
        let header = try #require(BlockFrame.header(bytes))
        // Entries, then the 4-word filter, and nothing after.
        #expect(header.summaryLength == summary.encode().count)
        #expect(summary.encode().suffix(32) == summary.nameFilter.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) } })
        let receipts = BlockSummary(entries: summary.entries, nameFilter: summary.nameFilter, receipts: [Self.receipt("x")])
        #expect(try BlockSummary.decode(receipts.encode()) == receipts)
        #expect(try BlockSummary.decode(summary.encode()).receipts.isEmpty)
        // A reader before receipts stopped after the filter: the prefix is that summary.
        #expect(Array(receipts.encode().prefix(summary.encode().count)) == summary.encode())
    }
}
