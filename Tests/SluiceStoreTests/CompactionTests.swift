import Testing
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// The writer seals segments as written and compacts them behind ingest: each segment sealed
/// while records arrive, and what an earlier writer left as written, is replaced by its
/// compacted copy while records keep coming; the segment sealed at the end waits for the next
/// writer. The oracle is the compactor run on the same segment written without compaction.
@Suite("Segment compaction behind ingest")
struct CompactionTests {
    static func configuration(compactRecords: Int, segmentBytes: Int) -> SegmentWriter<ContinuousClock>.Configuration {
        var configuration = SegmentWriter<ContinuousClock>.Configuration()
        configuration.flushRecords = 100
        configuration.compactRecords = compactRecords
        configuration.segmentBytes = segmentBytes
        return configuration
    }

    static func batches(_ records: [StoredRecord], perBatch: Int = 37) -> [StoreBatch] {
        stride(from: 0, to: records.count, by: perBatch).map { start in
            var batch = StoreBatch()
            for stored in records[start..<min(start + perBatch, records.count)] {
                switch stored {
                case .record(let r): batch.records.append(r)
                case .output(let o): batch.outputs.append(o)
                }
            }
            return batch
        }
    }

    /// Every kind of record and output, in batches, through a replay writer (blocks cut by
    /// size, so two writers cut them alike), to its end.
    static func write(_ records: [StoredRecord], into directory: DataDirectory? = nil, compactRecords: Int, segmentBytes: Int = 64 << 20,
                      statistics: StoreStatistics = StoreStatistics()) async throws -> DataDirectory {
        let directory = try directory ?? DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let writer = SegmentWriter(replayConfiguration: configuration(compactRecords: compactRecords, segmentBytes: segmentBytes),
                                   directory: directory, statistics: statistics) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 2)
        async let done: Void = writer.run(input: input)
        for batch in batches(records) { try await input.send(batch) }
        input.finish()
        try await done
        return directory
    }

    static func compacted(_ segment: SegmentFile, maximumRecords: Int = 1 << 20) throws -> [UInt8] {
        let frames = try #require(try SegmentCompactor(maximumRecords: maximumRecords, level: 3).compactedFrames(segment))
        return SegmentFile.header() + frames.flatMap { $0 }
    }

    @Test("segments sealed while records arrive are replaced by their compacted copies; the last one is left as written, marked",
          arguments: [250, 1_000, 5_000])
    func sealedWhileWriting(compactRecords: Int) async throws {
        // A few records after the last whole block, for a segment sealed at the end.
        let records = BlockCodecTests.sample() + (0..<3).map { StoredRecord.record(StoreTestSupport.metric($0)) }
        let whole = try await Self.write(records, compactRecords: 0)
        // About four and a half blocks (of about a dozen): segments of five blocks, and the rest.
        let segmentBytes = try whole.totalBytes() * 3 / 8
        let asWritten = try await Self.write(records, compactRecords: 0, segmentBytes: segmentBytes)
        let directory = try await Self.write(records, compactRecords: compactRecords, segmentBytes: segmentBytes)

        let written = try asWritten.segments()
        let kept = try directory.segments()
        #expect(kept.map(\.id) == written.map(\.id))
        // A segment that reached the size was sealed while records arrived; the last one, at the end.
        let sealedAtTheEnd = try written.filter { try FileIO.readFile($0.path).count < segmentBytes }.map(\.id)
        #expect(written.count >= 3, "the records span several segments")
        let sizes = try written.map { try FileIO.readFile($0.path).count }
        let blocks = try written.map { try $0.scan(verify: false).blocks.count }
        #expect(sealedAtTheEnd == written.suffix(1).map(\.id), "\(segmentBytes) \(sizes) \(blocks)")
        for (k, w) in zip(kept, written) {
            if sealedAtTheEnd.contains(w.id) {
                #expect(k.isMarkedAsWritten(), "sealed at the end: the next writer compacts it")
                #expect(try FileIO.readFile(k.path).dropFirst(SegmentFile.headerBytes) == FileIO.readFile(w.path).dropFirst(SegmentFile.headerBytes))
            } else {
                #expect(try w.scan(verify: true).blocks.count > 1)
                #expect(!k.isMarkedAsWritten(), "\(k.name)")
                #expect(try FileIO.readFile(k.path) == Self.compacted(w, maximumRecords: compactRecords), "\(k.name)")
            }
        }
        #expect(try FileIO.list(directory.segmentsPath).allSatisfy { !$0.hasSuffix(".tmp") })

        let stored = try StoreReader(directory: directory).records(StoreQuery())
        #expect(stored.count == records.count)
        #expect(Set(stored) == Set(records))
    }

    @Test("the next writer compacts, while it still takes records, what the last one left as written")
    func nextWriterCompacts() async throws {
        let records = BlockCodecTests.sample()
        let directory = try await Self.write(records, compactRecords: 1 << 20)
        let left = try #require(try directory.segments().first)
        #expect(left.isMarkedAsWritten())
        let expected = try Self.compacted(left)

        let statistics = StoreStatistics()
        let writer = SegmentWriter(replayConfiguration: Self.configuration(compactRecords: 1 << 20, segmentBytes: 64 << 20),
                                   directory: directory, statistics: statistics) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 2)
        async let done: Void = writer.run(input: input)
        // Its input is still open.
        await statistics.wait(compactedSegments: 1)
        #expect(try FileIO.readFile(left.path) == expected)
        #expect(!left.isMarkedAsWritten())
        try await input.send(StoreBatch(records: [StoreTestSupport.metric(1_000_000)]))
        input.finish()
        try await done

        let segments = try directory.segments()
        #expect(segments.count == 2)
        #expect(segments.last?.isMarkedAsWritten() == true)
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == records.count + 1)
    }

    @Test("a compaction cut short by a crash leaves the segment as written; the next start removes the partial copy and compacts it")
    func crashDuringCompaction() async throws {
        let records = BlockCodecTests.sample()
        let directory = try await Self.write(records, compactRecords: 1 << 20)
        let segment = try #require(try directory.segments().first)
        let original = try FileIO.readFile(segment.path)
        let expected = try Self.compacted(segment)
        try FileIO.writeAtomically(segment.path + ".compact.tmp", [Array(expected.prefix(expected.count / 2))])
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == records.count, "reads do not see the partial copy")

        let statistics = StoreStatistics()
        _ = try await Self.write([], into: directory, compactRecords: 1 << 20, statistics: statistics)
        #expect(statistics.compactedSegments == 1)
        #expect(try FileIO.readFile(segment.path) == expected)
        #expect(expected != original)
        #expect(try FileIO.list(directory.segmentsPath) == [segment.name], "the partial copy is gone, and the empty run left no segment")
        let stored = try StoreReader(directory: directory).records(StoreQuery())
        #expect(Set(stored) == Set(records))
    }

    @Test("a segment with nothing for compaction to do is never rewritten: one written with compaction off (not marked), or one of a single block",
          arguments: [false, true])
    func leftAsItIs(oneBlock: Bool) async throws {
        let records = oneBlock ? Array(BlockCodecTests.sample().prefix(60)) : BlockCodecTests.sample()
        let directory = try await Self.write(records, compactRecords: oneBlock ? 1 << 20 : 0)
        let segment = try #require(try directory.segments().first)
        let blocks = try segment.scan(verify: true).blocks.count
        #expect(oneBlock ? blocks == 1 : blocks > 1)
        #expect(segment.isMarkedAsWritten() == oneBlock)
        let before = try FileIO.readFile(segment.path)
        let statistics = StoreStatistics()
        _ = try await Self.write([], into: directory, compactRecords: 1 << 20, statistics: statistics)
        #expect(statistics.compactedSegments == 0)
        #expect(try FileIO.readFile(segment.path) == before)
    }

    @Test("a retention rewrite of a segment not yet compacted keeps it marked, so that a writer still compacts it")
    func retentionKeepsTheMark() async throws {
        let day: Int64 = 86_400_000_000
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let appender = try directory.createSegment(asWritten: true)
        for d in 0..<10 {
            let ts = Timestamp(microseconds: StoreTestSupport.t0 + Int64(d) * day)
            let records = (0..<20).map { StoredRecord.record(.metric(MetricRecord(timestamp: ts, tenantID: "t\($0 % 2)", name: "m", value: Double(d * 100 + $0)))) }
            try appender.append(try BlockFrame.build(records, level: 1).bytes)
        }
        let segment = try appender.seal()
        let policy = RetentionPolicy(try Configuration.parse(yaml: "retention:\n  max_age: {metric: 5d}\n").retention)
        let report = try RetentionPruner(directory: directory, policy: policy, segmentBytes: 1 << 20)
            .prune(now: Timestamp(microseconds: StoreTestSupport.t0 + 10 * day), confirmed: true)
        #expect(report.removedRecords > 0 && report.removedRecords < 200)
        #expect(segment.isMarkedAsWritten())
        let kept = try StoreReader(directory: directory).records(StoreQuery())

        let statistics = StoreStatistics()
        _ = try await Self.write([], into: directory, compactRecords: 1 << 20, statistics: statistics)
        #expect(statistics.compactedSegments == 1)
        #expect(!segment.isMarkedAsWritten())
        #expect(try segment.scan(verify: true).blocks.count == 1)
        #expect(Set(try StoreReader(directory: directory).records(StoreQuery())) == Set(kept))
    }
}
