import AsyncAlgorithms
import SluiceModel
import SluicePipeline

/// The segment writer stage: raw records and closed windows in, zstd-compressed blocks on disk.
///
/// Its input is a bounded channel, so a slow disk holds up the aggregator and, through it,
/// ingest. On end of input (including a graceful shutdown) it flushes, syncs and seals.
public struct SegmentWriter<C: Clock>: StoreStage where C.Duration == Duration {
    public let configuration: Configuration
    let directory: DataDirectory
    /// Drives flush intervals; `nil` in replay, where only `flushRecords` and the end flush.
    let clock: C?
    let report: @Sendable (String) -> Void
    let statistics: StoreStatistics

    public init(configuration: Configuration, directory: DataDirectory, clock: C?, statistics: StoreStatistics = StoreStatistics(),
                report: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.directory = directory
        self.clock = clock
        self.statistics = statistics
        self.report = report
    }

    enum Message: Sendable {
        case batch(StoreBatch)
        case tick
        case end
    }

    public func run(input: BoundedChannel<StoreBatch>) async throws {
        for cut in try directory.recoverOpenSegments() { report("recovered \(cut)") }
        var machine = StateMachine(configuration: configuration)
        var segment: SegmentAppender?
        let compactor = configuration.compactRecords > 0 ? SegmentCompactor(maximumRecords: configuration.compactRecords, level: configuration.compactionLevel) : nil
        let started = ContinuousClock.now
        func now() -> Duration { ContinuousClock.now - started }

        func perform(_ action: StateMachine.Action) throws {
            switch action {
            case .none:
                break
            case .sync:
                try segment?.sync()
            case .flush(let sync):
                guard let (frame, records) = try machine.takeBlock(level: configuration.compressionLevel) else {
                    try segment?.sync()
                    return
                }
                if segment == nil { segment = try directory.createSegment() }
                try segment!.append(frame)
                statistics.recordBlock(records: records, bytes: frame.count)
                if sync { try segment!.sync() }
                for acknowledgement in machine.takeAcknowledgements() { acknowledgement.resolve() }
                if machine.appended(bytes: frame.count, now: now()) {
                    _ = try segment!.seal(compactor: compactor)
                    segment = nil
                }
            }
        }

        if let clock {
            let messages = merge(
                chain(input.map { Message.batch($0) }, [Message.end].async),
                AsyncTimerSequence(interval: configuration.flushInterval, clock: clock).map { _ in Message.tick }
            )
            loop: for await message in messages {
                switch message {
                case .batch(let batch): try perform(machine.batch(batch))
                case .tick: try perform(machine.tick())
                case .end: break loop
                }
            }
        } else {
            for await batch in input { try perform(machine.batch(batch)) }
        }
        try perform(.flush(sync: configuration.fsync != .never))
        if let open = segment { _ = try open.seal(compactor: compactor) }
    }
}

extension SegmentWriter where C == ContinuousClock {
    /// A writer for replay: no clock, blocks flushed by size and at the end.
    public init(replayConfiguration configuration: Configuration, directory: DataDirectory, statistics: StoreStatistics = StoreStatistics(),
                report: @escaping @Sendable (String) -> Void) {
        self.init(configuration: configuration, directory: directory, clock: nil, statistics: statistics, report: report)
    }
}
