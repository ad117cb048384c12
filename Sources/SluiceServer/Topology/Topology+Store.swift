import Synchronization
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

extension Topology {
    /// The store behind a data directory: the lock, the segment writer, the token meter's
    /// state, the retention policy in force, and what a restart resumes.
    public final class Store: Sendable {
        public let directory: DataDirectory
        let lock: DirectoryLock
        let writer: any StoreStage
        let tokenState: TokenMeterStateFile
        let anomalyState: AnomalyStateFile
        public let statistics = StoreStatistics()
        public let health = StoreHealth()
        public let reader: StoreReader
        public let segmentBytes: Int
        private let policy: Mutex<Configuration.Retention>
        /// Periodic retention runs finished (pruned, refused or failed) since start.
        public let retentionRuns = Watched(0)
        /// The downsampling tiers; `nil` when `retention.tiers` is `{}`.
        public let tiers: Tiers?
        let compactionLevel: Int32
        /// One roll-up or tier prune at a time (the periodic run, the last one at the end).
        private let tierTurns = Mutex(())
        private let report: @Sendable (String) -> Void

        init(path: String, configuration: Configuration, live: Bool, keepRunning: Bool, report: @escaping @Sendable (String) -> Void) throws {
            do {
                directory = try DataDirectory(path: path, create: true)
                lock = try directory.lock()
            } catch {
                throw ServerError("--data-dir \(path): \(error)")
            }
            // A torn tail from a crash is cut before anything reads the store.
            for cut in try directory.recoverOpenSegments() { report("recovered \(cut)") }
            var writerConfiguration = SegmentWriter<ContinuousClock>.Configuration(configuration)
            if keepRunning {
                // Through a full disk: hold what was taken, refuse more, write again once there is room.
                writerConfiguration.onWriteFailure = .retry(every: max(writerConfiguration.flushInterval, .milliseconds(100)))
            }
            if live {
                writer = SegmentWriter(configuration: writerConfiguration, directory: directory, clock: ContinuousClock(),
                                       statistics: statistics, health: health, report: report)
            } else {
                writer = SegmentWriter(replayConfiguration: writerConfiguration, directory: directory, statistics: statistics, report: report)
            }
            segmentBytes = writerConfiguration.segmentBytes
            compactionLevel = writerConfiguration.compactionLevel
            tokenState = try TokenMeterStateFile(directory: directory)
            anomalyState = AnomalyStateFile(directory: directory)
            reader = StoreReader(directory: directory)
            let retention = try RetentionRoutes.saved(in: directory) ?? configuration.retention
            policy = Mutex(retention)
            let tiers = try Tiers(base: directory, windows: configuration.pipeline.windows, configuration: retention.tiers)
            for problem in tiers.unusable { report(problem) }
            self.tiers = tiers.tiers.isEmpty ? nil : tiers
            self.report = report
        }

        /// Rolls closed windows up into the tiers, then prunes each tier by its age. `now` is
        /// the wall clock, or `nil` in replay: the data's own time (its latest window).
        /// Failures are reported, never thrown: the next run tries again.
        func maintainTiers(now: Timestamp?) async {
            guard let tiers else { return }
            let level = compactionLevel
            let policy = retention
            let outcome: Result<Tiers.Maintenance, StoreError>
            do {
                outcome = .success(try await BlockingWork.run { () throws(StoreError) in
                    try self.tierTurns.withLock { _ throws(StoreError) in try tiers.maintain(now: now, level: level, policy: policy) }
                })
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let done):
                for r in done.rollups where r.windows > 0 {
                    report("rolled up \(r.windows) windows from \(r.from) to \(r.to) into the \(r.step.humanDescription) tier")
                }
                if done.pruned > 0 { report("pruned \(done.pruned) expired windows from the tiers") }
                for refusal in done.refusals { report("tier prune refused: \(refusal)") }
            case .failure(let error):
                report("the tiers were not rolled up: \(error); the next retention run tries again")
            }
        }

        /// The retention policy in force (the configuration's, or one saved from the API).
        public var retention: Configuration.Retention { policy.withLock { $0 } }

        func setRetention(_ retention: Configuration.Retention) { policy.withLock { $0 = retention } }

        /// A pruner for the policy in force.
        public var pruner: RetentionPruner {
            RetentionPruner(directory: directory, policy: RetentionPolicy(retention), segmentBytes: segmentBytes)
        }

        /// Releases the data directory (the process ending does too).
        public func release() { lock.release() }

        /// Where the window aggregator picks up: the last checkpoint of its open windows, less
        /// the windows that closed and were stored after it (a crash came between). `nil`
        /// when there is no checkpoint.
        func resumption(configuration: WindowAggregator.Configuration, report: @Sendable (String) -> Void) throws -> WindowAggregator.Resumption? {
            let file = WindowCheckpointFile(directory: directory)
            guard let bytes = try file.load() else { return nil }
            let checkpoint: WindowCheckpoint
            do {
                checkpoint = try WindowCheckpoint(decoding: bytes)
            } catch {
                let aside = try directory.quarantineFile(WindowCheckpointFile.name)
                report("the window checkpoint cannot be read (\(error)); moved to \(aside); open windows start empty")
                return nil
            }
            var stored: [OutputRecord] = []
            if let from = checkpoint.earliestOpenWindowStart {
                for record in try reader.records(StoreQuery(kinds: [.window, .cacheWindow, .visitsWindow], from: from)) {
                    if case .output(let output) = record { stored.append(output) }
                }
            }
            var events: [StageEvent] = []
            do {
                var machine = try WindowAggregator.StateMachine(configuration: configuration, resuming: checkpoint)
                machine.skipStored(stored, into: &events)
                return WindowAggregator.Resumption(machine: machine, events: events)
            } catch {
                // Different window lengths: the checkpoint's windows close now, as they were.
                var old = try WindowAggregator.StateMachine(configuration: checkpoint.configuration, resuming: checkpoint)
                old.skipStored(stored, into: &events)
                old.inputFinished(into: &events)
                report("the window lengths changed since the last checkpoint (\(error)); its open windows are closed now")
                return WindowAggregator.Resumption(machine: WindowAggregator.StateMachine(configuration: configuration), events: events)
            }
        }
    }
}
