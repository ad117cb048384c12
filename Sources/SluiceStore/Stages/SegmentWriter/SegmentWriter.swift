import AsyncAlgorithms
import SluiceModel
import SluicePipeline

/// The segment writer stage: raw records and closed windows in, zstd-compressed blocks on disk.
///
/// Its input is a bounded channel, so a slow disk holds up the aggregator and, through it,
/// ingest. On end of input (including a graceful shutdown) it flushes, syncs and seals.
///
/// Segments are sealed as written, and compacted behind ingest (`SegmentCompactor.Behind`):
/// each segment sealed while records keep coming, and any a previous writer left as written,
/// is compacted on the blocking pool while this one carries on. The writer's end waits for
/// those; the segment sealed at the end is left to the next writer.
///
/// Its own framing, writes, syncs and seals run on a thread of its own (a one-thread
/// `BlockingWork.Pool`; they are serial anyway): a long store scan, retention pass or
/// compaction on the shared pool never delays a write, nor the acknowledgement waiting for it.
///
/// When the disk refuses a write (full, or failing), what happens next is the configuration's
/// `onWriteFailure`: `fail` ends the stage with the error (a batch run exits with it), `retry`
/// keeps the blocks in memory, marks `health` failed (ingest refuses new records, readiness
/// drops), stops taking input, and tries again every interval until the disk takes them.
public struct SegmentWriter<C: Clock>: StoreStage where C.Duration == Duration {
    public let configuration: Configuration
    let directory: DataDirectory
    /// Drives flush intervals and retries; `nil` in replay, where only `flushRecords` and the
    /// end flush, and a write failure ends the run.
    let clock: C?
    let report: @Sendable (String) -> Void
    let statistics: StoreStatistics
    let health: StoreHealth

    public init(configuration: Configuration, directory: DataDirectory, clock: C?, statistics: StoreStatistics = StoreStatistics(),
                health: StoreHealth = StoreHealth(), report: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.directory = directory
        self.clock = clock
        self.statistics = statistics
        self.health = health
        self.report = report
    }

    enum Message: Sendable {
        case batch(StoreBatch)
        case tick
        case end
    }

    /// Writes until `input` ends, then flushes, syncs and seals. Throws when a write fails
    /// and the policy (or a shutdown while waiting for the disk) says to give up.
    public func run(input: BoundedChannel<StoreBatch>) async throws {
        let lane = BlockingWork.Pool(threads: 1)
        do {
            try await run(input: input, lane: lane)
        } catch {
            await lane.shutdown()
            throw error
        }
        await lane.shutdown()
    }

    private func run(input: BoundedChannel<StoreBatch>, lane: BlockingWork.Pool) async throws {
        let (recovered, lastSealed) = try await BlockingWork.run(on: lane) { [directory] () throws(StoreError) in
            (try directory.recoverOpenSegments(), try directory.segments().last(where: \.sealed)?.id)
        }
        for cut in recovered { report("recovered \(cut)") }
        var machine = StateMachine(configuration: configuration)
        let compaction = configuration.compactRecords > 0
            ? SegmentCompactor.Behind(SegmentCompactor(maximumRecords: configuration.compactRecords, level: configuration.compactionLevel),
                                      directory: directory, statistics: statistics, report: report)
            : nil
        if let lastSealed { compaction?.allow(through: lastSealed) }
        let output = Output(directory: directory, statistics: statistics, compacted: compaction != nil, level: configuration.compressionLevel,
                            lane: lane, report: report)
        // Segment age is measured on the injected clock; replay has none, and seals by size only.
        let started = clock?.now
        func now() -> Duration { if let clock, let started { started.duration(to: clock.now) } else { .zero } }

        /// The block being framed and written while the next one fills: compression and the
        /// write run on the blocking pool, off the path records take. One at a time, so blocks
        /// reach the segment in order; everything else waits for it (`settle()`).
        var inFlight: (task: Task<Result<Int, StoreError>, any Error>, sync: Bool)?

        /// Waits for the block in flight to be written; then seals the segment if it is due.
        func settle() async throws {
            guard let (task, sync) = inFlight else { return }
            inFlight = nil
            var bytes = 0
            switch try await task.value {
            case .success(let written): bytes = written
            case .failure(let error):
                // The blocks stay queued and the segment was cut back: that failure goes to the
                // policy as if it had happened here, and later attempts write them again.
                var failed: StoreError? = error
                try await write { () async throws(StoreError) in
                    if let error = failed { failed = nil; throw error }
                    bytes = try await output.flush(sync: sync)
                }
            }
            if bytes > 0, machine.appended(bytes: bytes, now: now()) {
                try await sealDue()
            }
        }

        func perform(_ action: StateMachine.Action) async throws {
            switch action {
            case .none:
                return
            case .sync:
                try await settle()
                try await write { () async throws(StoreError) in _ = try await output.flush(sync: true) }
            case .flush(let sync):
                try await settle()
                guard let block = machine.takeBlock() else {
                    // Nothing new, but blocks a failed write left may be waiting.
                    var bytes = 0
                    try await write { () async throws(StoreError) in bytes = try await output.flush(sync: sync) }
                    if bytes > 0, machine.appended(bytes: bytes, now: now()) {
                        try await sealDue()
                    }
                    return
                }
                let acknowledgements = machine.takeAcknowledgements()
                inFlight = (Task {
                    try await output.enqueue(block, acknowledgements: acknowledgements)
                    do throws(StoreError) { return .success(try await output.flush(sync: sync)) } catch { return .failure(error) }
                }, sync)
                // Someone waits for these records: they are answered once the block is durable.
                if !acknowledgements.isEmpty { try await settle() }
            case .checkpoint(let checkpoint, let detector, let sync):
                try await perform(.flush(sync: sync))
                try await settle()
                if let checkpoint { try await write { () async throws(StoreError) in try await output.replace(checkpoint) } }
                if let detector { try await write { () async throws(StoreError) in try await output.replace(detector: detector) } }
            }
        }

        /// Seals the segment that reached its size or age, and hands it to compaction.
        func sealDue() async throws {
            var sealed: SegmentFile?
            try await write { () async throws(StoreError) in sealed = try await output.seal() }
            if let sealed { compaction?.allow(through: sealed.id) }
        }

        /// Runs `attempt` until it succeeds, as the failure policy allows.
        func write(_ attempt: () async throws(StoreError) -> Void) async throws {
            do {
                try await attempt()
                return
            } catch {
                guard case .retry(let interval) = configuration.onWriteFailure, let clock else {
                    throw StoreError.io("\(error); \(output.heldRecords) records were not stored")
                }
                if health.failed(error.message) {
                    report("the store cannot write (\(error)); holding \(output.heldRecords) records in memory, refusing new ones, retrying every \(interval)")
                }
                output.failAcknowledgements(error.message)
                while true {
                    let last = health.isStopping
                    try await clock.sleep(for: interval)
                    do {
                        try await attempt()
                        if health.recovered() { report("the store writes again") }
                        return
                    } catch {
                        health.failed(error.message)
                        output.failAcknowledgements(error.message)
                        if last {
                            throw StoreError.io("\(error); shutting down with \(output.heldRecords) records that could not be stored")
                        }
                    }
                }
            }
        }

        /// Everything up to the last seal; compaction is waited for after it.
        func drain() async throws {
            if let clock {
                let messages = merge(
                    chain(input.map { Message.batch($0) }, [Message.end].async),
                    AsyncTimerSequence(interval: configuration.flushInterval, clock: clock).map { _ in Message.tick }
                )
                loop: for await message in messages {
                    switch message {
                    case .batch(let batch): try await perform(machine.batch(batch))
                    case .tick: try await perform(machine.tick())
                    case .end: break loop
                    }
                }
            } else {
                for await batch in input { try await perform(machine.batch(batch)) }
            }
            try await perform(.flush(sync: configuration.fsync != .never))
            try await settle()
            try await write { () async throws(StoreError) in try await output.seal() }
        }

        do {
            try await drain()
        } catch {
            await compaction?.stop()
            throw error
        }
        await compaction?.finish()
    }
}

extension SegmentWriter where C == ContinuousClock {
    /// A writer for replay: no clock, blocks flushed by size and at the end.
    public init(replayConfiguration configuration: Configuration, directory: DataDirectory, statistics: StoreStatistics = StoreStatistics(),
                report: @escaping @Sendable (String) -> Void) {
        self.init(configuration: configuration, directory: directory, clock: nil, statistics: statistics, report: report)
    }
}
