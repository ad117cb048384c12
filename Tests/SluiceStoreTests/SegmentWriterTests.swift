import Testing
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

@Suite("Segment writer")
struct SegmentWriterTests {
    @Test("flushes a block at flush_records and on every clock tick; seals at the end")
    func flushes() async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        var configuration = SegmentWriter<ManualClock>.Configuration()
        configuration.flushRecords = 100
        configuration.flushInterval = .seconds(1)
        // The loop below advances the clock until the writer has flushed, which on a busy machine
        // can pass the default hour: the segment must still be sealed only at the end.
        configuration.segmentAge = .seconds(1 << 40)
        let clock = ManualClock()
        let statistics = StoreStatistics()
        let writer = SegmentWriter(configuration: configuration, directory: directory, clock: clock, statistics: statistics) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 2)
        async let done: Void = writer.run(input: input)

        try await input.send(StoreBatch(records: (0..<250).map { StoreTestSupport.metric($0) }, outputs: []))
        while statistics.blocks < 1 { await Task.yield() }
        #expect(statistics.records == 250, "one block as soon as the batch passed flush_records")

        try await input.send(StoreBatch(records: (250..<260).map { StoreTestSupport.metric($0) }, outputs: []))
        while clock.sleeperCount == 0 { await Task.yield() }
        #expect(statistics.blocks == 1, "ten records wait for the interval")
        // The timer may tick before the writer has taken the batch; the next tick flushes it.
        while statistics.blocks < 2 {
            clock.advance(by: .seconds(1))
            await Task.yield()
        }
        #expect(statistics.records == 260)

        try await input.send(StoreBatch(records: [StoreTestSupport.metric(260)], outputs: []))
        input.finish()
        try await done
        #expect(statistics.records == 261)
        let segments = try directory.segments()
        #expect(segments.count == 1 && segments[0].sealed)
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 261)
    }

    @Test("a segment is sealed at its size limit and the next one starts")
    func sealsBySize() async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        var configuration = SegmentWriter<ContinuousClock>.Configuration()
        configuration.flushRecords = 50
        configuration.segmentBytes = 600
        let writer = SegmentWriter(replayConfiguration: configuration, directory: directory) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 2)
        async let done: Void = writer.run(input: input)
        for i in 0..<20 {
            try await input.send(StoreBatch(records: (0..<50).map { StoreTestSupport.metric(i * 50 + $0, seconds: Int64(i * 50 + $0) * 7) }, outputs: []))
        }
        input.finish()
        try await done
        let segments = try directory.segments()
        #expect(segments.count > 1)
        #expect(segments.allSatisfy { $0.sealed })
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 1_000)
    }

    @Test("closed windows are stored beside raw records, and only what is worth storing")
    func storesWindows() async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let writer = SegmentWriter(replayConfiguration: .init(), directory: directory) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 2)
        async let done: Void = writer.run(input: input)
        let window = WindowSummary(span: WindowSpan(length: .minutes(1), start: Timestamp(microseconds: StoreTestSupport.t0)),
                                   series: SeriesKey(tenantID: "t", name: "m"), count: 1, sum: 1, min: 1, max: 1, p50: 1, p90: 1, p95: 1, p99: 1)
        try await input.send(StoreBatch(records: [StoreTestSupport.metric(1)], outputs: [.window(window), .summary(RunSummary())]))
        input.finish()
        try await done
        let stored = try StoreReader(directory: directory).records(StoreQuery(kinds: [.window]))
        #expect(stored == [.output(.window(window))])
    }

    @Test("a second writer on the same directory is refused, naming the reason")
    func lock() throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let held = try directory.lock()
        #expect {
            try directory.lock()
        } throws: { error in
            (error as? StoreError)?.isLocked == true && "\(error)".contains("in use by another Sluice process")
        }
        withExtendedLifetime(held) {}
    }
}

/// What `store.fsync` promises (README, "Retries and durability"): the bound on what a crash
/// can take from acknowledged records.
@Suite("fsync policy bounds")
struct FsyncPolicyTests {
    static func machine(_ policy: Configuration.FsyncPolicy) -> SegmentWriter<ManualClock>.StateMachine {
        var configuration = SegmentWriter<ManualClock>.Configuration()
        configuration.fsync = policy
        configuration.flushRecords = 1_000
        return SegmentWriter<ManualClock>.StateMachine(configuration: configuration)
    }

    static let batch = StoreBatch(records: [StoreTestSupport.metric(1)])

    @Test("always: a batch someone waits on is written and synced before it is acknowledged")
    func always() {
        var m = Self.machine(.always)
        #expect(m.batch(StoreBatch(records: [StoreTestSupport.metric(1)], acknowledgements: [Acknowledgement()])) == .flush(sync: true))
    }

    @Test("interval: everything taken is written and synced at the next flush tick, so at most one flush_interval is at risk")
    func interval() {
        var m = Self.machine(.interval)
        #expect(m.batch(Self.batch) == .none, "below flush_records the block waits for the tick")
        #expect(m.batch(Self.batch) == .none)
        #expect(m.tick() == .flush(sync: true))
        #expect(m.takeBlock()?.count == 2)
        // A full block is written at once, synced at once too.
        // A full block is written at once and synced at the next tick, idle or not.
        #expect(m.batch(StoreBatch(records: (0..<1_000).map { StoreTestSupport.metric($0) })) == .flush(sync: false))
        #expect(m.takeBlock()?.count == 1_000)
        #expect(m.tick() == .sync, "the block written without a sync is synced at the next tick")
    }

    @Test("a directory the store creates is fsynced into its parent, so what is synced inside it survives a power cut")
    func newDirectoriesAreSynced() throws {
        let root = TestFiles.temporaryDirectory()
        let directory = try DataDirectory(path: root + "/data", create: true)
        defer { FileFaults.clear(under: root) }
        let dataDirectory = FileFault.Files("the data directory") { $0 == directory.path }
        let fault = FileFaults.arm(FileFault(.directorySync, dataDirectory, errno: EIO, under: root))
        #expect(throws: StoreError.self) { try directory.writeFile("tokens/meter.state", [1, 2, 3]) }
        #expect(fault.fired == 1, "creating tokens/ syncs the data directory")
        fault.clear()
        try directory.writeFile("tokens/meter.state", [1, 2, 3])
        #expect(try directory.readFile("tokens/meter.state") == [1, 2, 3])
    }

    @Test("never: blocks are written at each tick (kill -9 safe once written), never synced")
    func never() {
        var m = Self.machine(.never)
        _ = m.batch(Self.batch)
        #expect(m.tick() == .flush(sync: false))
        _ = m.takeBlock()
        #expect(m.tick() == .none)
    }
}
