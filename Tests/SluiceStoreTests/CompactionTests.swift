import Testing
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// The writer compacts the open segment as its blocks are written, so that sealing does not
/// have to read the whole segment back once the input has ended.
@Suite("Segment compaction while writing")
struct CompactionTests {
    /// Every kind of record and output, in batches of `perBatch`, through a replay writer
    /// (blocks cut by size, so two writers cut them alike).
    static func write(_ records: [StoredRecord], compactRecords: Int, compactionMemory: Int = 32 << 20, perBatch: Int = 37,
                      whileRunning: @Sendable (DataDirectory, StoreStatistics) async throws -> Void = { _, _ in }) async throws -> DataDirectory {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        var configuration = SegmentWriter<ContinuousClock>.Configuration()
        configuration.flushRecords = 100
        configuration.compactRecords = compactRecords
        configuration.compactionMemory = compactionMemory
        let statistics = StoreStatistics()
        let writer = SegmentWriter(replayConfiguration: configuration, directory: directory, statistics: statistics) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 2)
        async let done: Void = writer.run(input: input)
        for start in stride(from: 0, to: records.count, by: perBatch) {
            var batch = StoreBatch()
            for stored in records[start..<min(start + perBatch, records.count)] {
                switch stored {
                case .record(let r): batch.records.append(r)
                case .output(let o): batch.outputs.append(o)
                }
            }
            try await input.send(batch)
        }
        try await whileRunning(directory, statistics)
        input.finish()
        try await done
        return directory
    }

    static func segmentBytes(_ directory: DataDirectory) throws -> [UInt8] {
        let segments = try directory.segments()
        try #require(segments.count == 1 && segments[0].sealed)
        return try FileIO.readFile(segments[0].path)
    }

    @Test("the sealed segment is byte for byte what compacting the finished segment makes, for every record kind and block size",
          arguments: [250, 1_000, 5_000])
    func sameAsCompactingAtTheSeal(compactRecords: Int) async throws {
        let records = BlockCodecTests.sample()
        let compacted = try await Self.write(records, compactRecords: compactRecords)
        let asWritten = try await Self.write(records, compactRecords: 0)
        let segment = try #require(try asWritten.segments().first)
        #expect(try segment.scan(verify: true).blocks.count > 2, "the records span several blocks")

        let frames = try #require(try SegmentCompactor(maximumRecords: compactRecords, level: 3).compactedFrames(segment))
        #expect(try Self.segmentBytes(compacted) == SegmentFile.header() + frames.flatMap { $0 })
        // And what comes back is what went in.
        let stored = try StoreReader(directory: compacted).records(StoreQuery())
        #expect(stored.count == records.count)
        #expect(Set(stored) == Set(records))
    }

    @Test("the compacted copy grows beside the open segment while records arrive, and takes its place at the seal")
    func copyGrowsBeforeTheSeal() async throws {
        let records = (0..<1_000).map { StoredRecord.record(StoreTestSupport.metric($0, tenant: "t\($0 % 3)")) }
        let copyInode = Mutex<UInt?>(nil)
        let directory = try await Self.write(records, compactRecords: 250, perBatch: 100) { directory, statistics in
            // Ten blocks of 100 written: three compacted blocks of 300 are in the copy already.
            while statistics.records < 1_000 { await Task.yield() }
            let open = try #require(try directory.segments().first { !$0.sealed })
            let copy = try #require(try FileIO.list(directory.segmentsPath).first { $0.hasSuffix(".open.compact.tmp") })
            let fd = try FileIO.open(directory.segmentsPath + "/" + copy, O_RDONLY)
            defer { close(fd) }
            let scan = try open.scan(fd, verify: true)
            var status = stat()
            #expect(fstat(fd, &status) == 0)
            copyInode.withLock { $0 = UInt(status.st_ino) }
            #expect(scan.blocks.map(\.recordCount) == [300, 300, 300], "a block whenever 250 records have gathered")
        }
        #expect(try FileIO.list(directory.segmentsPath).filter { $0.hasSuffix(".tmp") }.isEmpty)
        let segment = try #require(try directory.segments().first)
        var status = stat()
        #expect(stat(segment.path, &status) == 0)
        #expect(UInt(status.st_ino) == copyInode.withLock { $0 }, "the sealed segment is the copy, not a compaction made at the seal")
        #expect(try segment.scan(verify: true).blocks.map(\.recordCount) == [300, 300, 300, 100])
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 1_000)
    }

    @Test("a copy that would hold more than its memory bound is given up while records arrive, and the seal compacts the segment to the same bytes",
          arguments: [2_000, 32 << 20])
    func copyOverItsMemoryIsGivenUp(compactionMemory: Int) async throws {
        let records = BlockCodecTests.sample()
        let given = compactionMemory < 10_000
        let directory = try await Self.write(records, compactRecords: 250, compactionMemory: compactionMemory) { directory, statistics in
            // Every whole block of 100 is written; the rest waits for the end.
            while statistics.records < records.count - records.count % 100 { await Task.yield() }
            let copies = try FileIO.list(directory.segmentsPath).filter { $0.hasSuffix(".compact.tmp") }
            #expect(copies.isEmpty == given, given ? "a copy over its bound is given up" : "within its bound the copy grows")
        }
        let asWritten = try await Self.write(records, compactRecords: 0)
        let segment = try #require(try asWritten.segments().first)
        let frames = try #require(try SegmentCompactor(maximumRecords: 250, level: 3).compactedFrames(segment))
        #expect(try Self.segmentBytes(directory) == SegmentFile.header() + frames.flatMap { $0 })
    }
}
