#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore
import SluiceServer
import ArgumentParser

/// Runs byte streams through the pipeline to sinks: what `run` and `replay` share.
struct StreamRunner {
    enum Source {
        case standardInput
        case file(String)
    }

    let configuration: Configuration
    let strict: Bool
    let sinks: [any Sink]
    /// `nil` in replay: time comes from the records alone.
    let ingestTime: (@Sendable () -> Timestamp)?
    /// Store raw records and aggregates here.
    var dataDirectory: String?
    /// Set by a signal handler: input ends at the next chunk and everything drains.
    var stop: StopSignal?

    /// Reads every source in order, then lets the pipeline drain. Returns how ingest ended.
    func run(sources: [Source]) async throws -> Ingest.Outcome {
        // Open every file first: a typo in the last name should not cost a long replay.
        var readers: [(FileDescriptorReader, String?)] = []
        for source in sources {
            switch source {
            case .standardInput: readers.append((FileDescriptorReader(descriptor: 0, stop: stop), nil))
            case .file(let path): readers.append((try FileDescriptorReader.open(path: path, stop: stop), path))
            }
        }
        let storage = try dataDirectory.map { try Storage(path: $0, configuration: configuration, live: ingestTime != nil) }
        let counters = PipelineCounters()
        var stages: [any EventStage] = []
        if configuration.anomaly.enabled {
            stages.append(AnomalyDetector(configuration: configuration.anomalyConfiguration, counters: counters))
        }
        stages.append(try TokenMeter(configuration: configuration.tokenMeterConfiguration, persistence: storage?.tokenState,
                                     counters: counters, report: Storage.log))
        let pipeline = Pipeline(configuration: configuration.pipelineConfiguration, stages: stages, sinks: sinks, store: storage?.writer, counters: counters)
        let ingest = Ingest(
            configuration: configuration.ingestConfiguration(strict: strict), output: pipeline.input,
            counters: pipeline.counters, ingestTime: ingestTime, report: StandardError.report
        )
        let opened = readers
        let outcome = try await withThrowingTaskGroup(of: RunnerTask.self) { group in
            group.addTask {
                try await pipeline.run()
                return .pipeline
            }
            group.addTask {
                defer { pipeline.input.finish() }
                for (reader, name) in opened {
                    let outcome = try await ingest.run(reader, source: name)
                    if case .stopped = outcome { return .ingest(outcome) }
                }
                return .ingest(.completed)
            }
            if let storage, storage.live {
                group.addTask {
                    try await storage.pruneEvery(configuration.retention.interval)
                    return .retention
                }
            }
            var outcome = Ingest.Outcome.completed
            var remaining = 2
            while remaining > 0, let done = try await group.next() {
                switch done {
                case .ingest(let o): outcome = o; remaining -= 1
                case .pipeline: remaining -= 1
                case .retention: break
                }
            }
            group.cancelAll()
            return outcome
        }
        withExtendedLifetime(storage) {}
        return outcome
    }
}

/// Which of `StreamRunner`'s tasks ended.
enum RunnerTask: Sendable {
    case ingest(Ingest.Outcome), pipeline, retention
}

/// The store behind `--data-dir`: the locked directory, its writer and its pruner.
struct Storage: Sendable {
    let directory: DataDirectory
    let lock: DirectoryLock
    let writer: any StoreStage
    let pruner: RetentionPruner
    let tokenState: TokenMeterStateFile
    /// Wall-clock time (run, serve) rather than replay's virtual time.
    let live: Bool

    init(path: String, configuration: Configuration, live: Bool) throws {
        do {
            directory = try DataDirectory(path: path, create: true)
            lock = try directory.lock()
        } catch {
            throw ValidationError("--data-dir \(path): \(error)")
        }
        let writerConfiguration = SegmentWriter<ContinuousClock>.Configuration(configuration)
        if live {
            writer = SegmentWriter(configuration: writerConfiguration, directory: directory, clock: ContinuousClock(), report: Storage.log)
        } else {
            writer = SegmentWriter(replayConfiguration: writerConfiguration, directory: directory, report: Storage.log)
        }
        pruner = RetentionPruner(directory: directory, policy: RetentionPolicy(configuration.retention), segmentBytes: writerConfiguration.segmentBytes)
        tokenState = try TokenMeterStateFile(directory: directory)
        self.live = live
    }

    /// The retention pruner stage: prunes on every tick of the wall clock until cancelled.
    func pruneEvery(_ interval: WindowDuration) async throws {
        while true {
            try await Task.sleep(for: .microseconds(interval.microseconds))
            let report = try pruner.prune(now: Timestamp.now())
            if report.removedRecords > 0 || report.refusal != nil {
                for line in PruneReportText.render(report).split(separator: "\n") { Storage.log("retention: \(line)") }
            }
        }
    }

    @Sendable static func log(_ message: String) {
        StandardError.write("sluice: \(message)\n")
    }
}

/// Diagnostics on stderr, one line each.
enum StandardError {
    @Sendable static func report(_ error: LineError) {
        write("\(error)\n")
    }

    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}
