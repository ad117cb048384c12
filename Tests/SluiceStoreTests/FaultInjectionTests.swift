#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// Every write step of the segment writer failed in turn (`FileFaults`), with EIO and ENOSPC,
/// as a server runs it (hold, refuse, retry) and as a batch run does (end with the error).
///
/// After each: the error is said, reads are served, the store verifies clean (after the
/// recovery a next start makes, for a batch run), and every acknowledged record is stored
/// exactly once. A server's writer also writes again by itself once the fault clears.
@Suite("Injected I/O errors: segment writer", .serialized, .timeLimit(.minutes(5)))
struct FaultInjectionTests {
    /// One step to fail: faults armed until cleared, and how the writer is set up to reach them.
    struct Step: Sendable, CustomTestStringConvertible {
        var name: String
        /// (operation, files, matching calls let through first)
        var faults: [(FileFault.Operation, FileFault.Files, Int)]
        var fsync: Configuration.FsyncPolicy = .always
        var compaction = false
        /// Batches carry a window checkpoint to replace.
        var checkpoints = false
        /// The writer is not touched by the failure: compaction, behind it, leaves the segment
        /// as written and says so.
        var absorbed = false
        /// Batch 0 is synced before the faults are armed (with fsync interval, by a tick); else
        /// it is still unsynced when they strike, and is held and written again with the rest.
        var syncedFirst = true
        var testDescription: String { name }
    }

    // With a segment sealed every second block: batch 1's write, sync and seal come first after
    // the faults are armed, then batch 2 creates the next segment.
    static let steps: [Step] = [
        Step(name: "segment create: open", faults: [(.open, .openSegment, 0)]),
        Step(name: "segment create: header write", faults: [(.write, .openSegment, 1)]),
        Step(name: "segment create: header fsync", faults: [(.fsync, .openSegment, 1)]),
        Step(name: "segment create: directory fsync", faults: [(.directorySync, .segmentsDirectory, 1)]),
        Step(name: "segment append: write", faults: [(.write, .openSegment, 0)]),
        Step(name: "segment append: short write", faults: [(.shortWrite, .openSegment, 0)]),
        Step(name: "segment sync: fsync", faults: [(.fsync, .openSegment, 0)]),
        Step(name: "segment sync at the seal: fsync (fsync interval)", faults: [(.fsync, .openSegment, 0)], fsync: .interval),
        Step(name: "failed sync whose cut fails too", faults: [(.fsync, .openSegment, 0), (.truncate, .openSegment, 0)]),
        Step(name: "failed write whose cut fails too (fsync interval)", faults: [(.write, .openSegment, 0), (.truncate, .openSegment, 0)], fsync: .interval,
             syncedFirst: false),
        Step(name: "seal: rename", faults: [(.rename, .openSegment, 0)]),
        Step(name: "seal: directory fsync", faults: [(.directorySync, .segmentsDirectory, 0)]),
        Step(name: "compaction: open", faults: [(.open, .compaction, 0)], compaction: true, absorbed: true),
        Step(name: "compaction: write", faults: [(.write, .compaction, 0)], compaction: true, absorbed: true),
        Step(name: "compaction: short write", faults: [(.shortWrite, .compaction, 0)], compaction: true, absorbed: true),
        Step(name: "compaction: fsync", faults: [(.fsync, .compaction, 0)], compaction: true, absorbed: true),
        Step(name: "compaction: rename", faults: [(.rename, .compaction, 0)], compaction: true, absorbed: true),
        Step(name: "window checkpoint: open", faults: [(.open, .windowCheckpoint, 0)], checkpoints: true),
        Step(name: "window checkpoint: write", faults: [(.write, .windowCheckpoint, 0)], checkpoints: true),
        Step(name: "window checkpoint: short write", faults: [(.shortWrite, .windowCheckpoint, 0)], checkpoints: true),
        Step(name: "window checkpoint: fsync", faults: [(.fsync, .windowCheckpoint, 0)], checkpoints: true),
        Step(name: "window checkpoint: rename", faults: [(.rename, .windowCheckpoint, 0)], checkpoints: true),
        Step(name: "window checkpoint: directory fsync", faults: [(.directorySync, .windowCheckpoint, 0)], checkpoints: true),
    ]

    static let errors: [Int32] = [EIO, ENOSPC]

    @Test("a server's writer holds, refuses and retries; reads go on; once the fault clears it writes again by itself; nothing is lost or doubled",
          arguments: steps, errors)
    func serving(step: Step, error code: Int32) async throws {
        let run = try WriterRun(step, serving: true)
        defer { FileFaults.clear(under: run.directory.path) }
        try await run.send(0)
        if step.syncedFirst {
            let ack = run.acknowledgements.withLock { $0[0].1 }
            while await WriterRun.outcome(ack) != .stored {
                run.clock.advance(by: .seconds(1))
                await Task.yield()
            }
        }
        let faults = run.arm(step, code)

        var failing = false
        var next = 1
        while !failing && next <= 4 {
            failing = try await run.send(next)
            next += 1
        }
        let reason = String(cString: strerror(code))
        // Compaction runs behind the writer: the seal of the first segment started it.
        if step.compaction { await run.reports.wait(until: { $0.contains { $0.contains("could not compact") } }) }
        #expect(faults.contains { $0.fired > 0 }, "the fault was reached")
        if step.absorbed {
            #expect(!failing)
        } else {
            #expect(failing, "the failure reaches the store's health: ingest refuses records, readiness drops")
            #expect(run.health.failure?.contains(reason) == true, "\(run.health.failure ?? "")")
            // Reads go on while the writer holds what it could not write.
            let stored = try StoreReader(directory: run.directory).records(StoreQuery(kinds: [.metric]))
            if step.syncedFirst { #expect(Set(WriterRun.values(batch: 0)).isSubset(of: Set(stored.map(WriterRun.value)))) }
        }

        for fault in faults { fault.clear() }
        while run.health.failure != nil {
            run.clock.advance(by: .seconds(1))
            await Task.yield()
        }
        // What was held is written without a restart, and new records are taken.
        await run.statistics.wait(records: next * WriterRun.perBatch)
        _ = try await run.send(9)
        run.input.finish()
        try await run.task.value

        for (batch, ack) in run.acknowledgements.withLock({ $0 }) {
            let outcome = await WriterRun.outcome(ack)
            if (batch == 0 && step.syncedFirst) || batch == 9 {
                #expect(outcome == .stored, "batch \(batch)")
            } else if case .failed(let why) = outcome {
                #expect(why.contains(reason), "batch \(batch): \(why)")
            } else {
                #expect(outcome == .stored, "batch \(batch)")
            }
        }
        if step.absorbed {
            #expect(run.reports.value.contains { $0.contains("could not compact") && $0.contains("stays as written") && $0.contains(reason) },
                    "\(run.reports.value)")
            #expect(try run.directory.segments().contains { $0.isMarkedAsWritten() }, "the segment it failed on is left as written")
        } else {
            #expect(run.reports.value.contains { $0.contains("the store cannot write") && $0.contains(reason) }, "\(run.reports.value)")
            #expect(run.reports.value.contains("the store writes again"))
        }
        try WriterRun.expectWhole(run.directory)
        #expect(try WriterRun.storedValues(run.directory) == run.sentValues, "every record sent is stored exactly once")
        if step.checkpoints {
            #expect(try WindowCheckpointFile(directory: run.directory).load() == WriterRun.checkpoint(9))
        }
    }

    @Test("a batch run's writer ends with an error naming the file and reason; the next start makes the store whole with every acknowledged record once",
          arguments: steps, errors)
    func batchRun(step: Step, error code: Int32) async throws {
        let run = try WriterRun(step, serving: false)
        defer { FileFaults.clear(under: run.directory.path) }
        try await run.send(0)
        let faults = run.arm(step, code)
        for batch in 1...3 { try await run.input.send(run.batch(batch)) }
        run.input.finish()
        let outcome: Result<Void, any Error>
        do {
            try await run.task.value
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        #expect(faults.contains { $0.fired > 0 }, "the fault was reached")
        let reason = String(cString: strerror(code))
        switch outcome {
        case .success:
            #expect(step.absorbed, "the run should end with the error")
        case .failure(let error):
            #expect(!step.absorbed, "\(error)")
            #expect("\(error)".contains(reason) && "\(error)".contains("not stored"), "\(error)")
        }
        if step.absorbed {
            // The run waited for compaction, behind it, before it ended.
            #expect(run.reports.value.contains { $0.contains("could not compact") && $0.contains(reason) }, "\(run.reports.value)")
        }
        for fault in faults { fault.clear() }

        // The next start.
        _ = try run.directory.recoverOpenSegments()
        try WriterRun.expectWhole(run.directory)
        let stored = try WriterRun.storedValues(run.directory)
        #expect(Set(stored).count == stored.count, "no record stored twice")
        var acknowledged: [Double] = []
        for (batch, ack) in run.acknowledgements.withLock({ $0 }) {
            if await WriterRun.outcome(ack) == .stored { acknowledged += WriterRun.values(batch: batch) }
        }
        #expect(Set(acknowledged).isSubset(of: Set(stored)), "every acknowledged record is stored")
        if step.fsync == .always { #expect(Set(WriterRun.values(batch: 0)).isSubset(of: Set(acknowledged)), "batch 0 was acknowledged before the fault") }
    }
}

/// A segment writer on a new directory, fed numbered batches of ten metric records.
final class WriterRun: Sendable {
    static let perBatch = 10
    let directory: DataDirectory
    let clock = ManualClock()
    let health = StoreHealth()
    let statistics = StoreStatistics()
    let reports = Watched<[String]>([])
    let input = BoundedChannel<StoreBatch>(capacity: 16)
    let task: Task<Void, any Error>
    let step: FaultInjectionTests.Step
    let acknowledgements = Mutex<[(Int, Acknowledgement)]>([])
    private let sent = Mutex<[Double]>([])

    /// `serving`: retry on a manual clock, as `serve` does; else end with the error, as a batch run does.
    init(_ step: FaultInjectionTests.Step, serving: Bool) throws {
        self.step = step
        directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-faults"), create: true)
        var configuration = SegmentWriter<ManualClock>.Configuration()
        configuration.flushRecords = Self.perBatch
        configuration.fsync = step.fsync
        configuration.compactRecords = step.compaction ? 1 << 20 : 0
        // Sealed at the second block.
        var block = BlockBuilder()
        for r in Self.records(batch: 0) { block.add(r) }
        configuration.segmentBytes = try BlockFrame.build(block, level: configuration.compressionLevel).bytes.count + 1
        configuration.onWriteFailure = serving ? .retry(every: .seconds(1)) : .fail
        let reports = self.reports
        let writer = SegmentWriter(configuration: configuration, directory: directory, clock: serving ? clock : nil,
                                   statistics: statistics, health: health) { line in reports.update { $0.append(line) } }
        let input = self.input
        task = Task { try await writer.run(input: input) }
    }

    static func records(batch: Int) -> [Record] {
        (0..<perBatch).map { StoreTestSupport.metric(batch * perBatch + $0) }
    }

    static func values(batch: Int) -> [Double] { records(batch: batch).map { if case .metric(let m) = $0 { m.value } else { .nan } } }

    static func value(_ stored: StoredRecord) -> Double {
        if case .record(.metric(let m)) = stored { m.value } else { .nan }
    }

    static func checkpoint(_ batch: Int) -> [UInt8] { Array("open windows as of batch \(batch)".utf8) }

    /// Batch `n`, with an acknowledgement (and a checkpoint, from batch 1 on, if the step has them).
    func batch(_ n: Int) -> StoreBatch {
        let ack = Acknowledgement()
        acknowledgements.withLock { $0.append((n, ack)) }
        sent.withLock { $0 += Self.values(batch: n) }
        return StoreBatch(records: Self.records(batch: n), acknowledgements: [ack], checkpoint: step.checkpoints && n > 0 ? .save(Self.checkpoint(n)) : nil)
    }

    var sentValues: [Double] { sent.withLock { $0.sorted() } }

    /// Sends batch `n`; returns once it is written, or the store reports a failure (`true`).
    @discardableResult
    func send(_ n: Int) async throws -> Bool {
        let batch = batch(n)
        try await input.send(batch)
        let (health, statistics, ack) = (self.health, self.statistics, batch.acknowledgements[0])
        let always = step.fsync == .always
        let written = sent.withLock { $0.count }
        await withTaskGroup(of: Void.self) { group in
            // Without fsync always, a block is acknowledged only once synced (at a tick or a seal).
            group.addTask { if always { _ = await ack.wait() } else { await statistics.wait(records: written) } }
            group.addTask { await health.wait(failing: true) }
            await group.next()
            group.cancelAll()
        }
        return health.failure != nil
    }

    func arm(_ step: FaultInjectionTests.Step, _ code: Int32) -> [FileFaults.Handle] {
        step.faults.map { FileFaults.arm(FileFault($0.0, $0.1, errno: code, under: directory.path, skip: $0.2)) }
    }

    /// How `ack` was resolved, or `.cancelled` when it has not been.
    static func outcome(_ ack: Acknowledgement) async -> Acknowledgement.Outcome {
        let peek = Task { await ack.wait() }
        peek.cancel()
        return await peek.value
    }

    /// Every segment sealed and whole, no temporary file left behind, nothing for a start to recover.
    static func expectWhole(_ directory: DataDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in try FileIO.list(directory.segmentsPath) {
            #expect(name.hasSuffix(".seg"), "\(name) left in segments/", sourceLocation: sourceLocation)
        }
        for segment in try directory.segments() {
            let damage = try segment.scan(verify: true).damage
            #expect(damage == nil, "\(segment.name): \(damage?.reason ?? "")", sourceLocation: sourceLocation)
        }
        if let names = try? FileIO.list(directory.path + "/windows") {
            #expect(names.allSatisfy { !$0.hasSuffix(".tmp") }, "\(names)", sourceLocation: sourceLocation)
        }
        #expect(try directory.recoverOpenSegments().isEmpty, sourceLocation: sourceLocation)
    }

    static func storedValues(_ directory: DataDirectory) throws -> [Double] {
        try StoreReader(directory: directory).records(StoreQuery(kinds: [.metric])).map(value).sorted()
    }
}
