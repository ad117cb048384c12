#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceConfig
import SluiceModel
import SluicePipeline

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
    var stages: [any EventStage] = []

    /// Reads every source in order, then lets the pipeline drain. Returns how ingest ended.
    func run(sources: [Source]) async throws -> Ingest.Outcome {
        // Open every file first: a typo in the last name should not cost a long replay.
        var readers: [(FileDescriptorReader, String?)] = []
        for source in sources {
            switch source {
            case .standardInput: readers.append((FileDescriptorReader(descriptor: 0), nil))
            case .file(let path): readers.append((try FileDescriptorReader.open(path: path), path))
            }
        }
        let pipeline = Pipeline(configuration: configuration.pipelineConfiguration, stages: stages, sinks: sinks)
        let ingest = Ingest(
            configuration: configuration.ingestConfiguration(strict: strict), output: pipeline.input,
            counters: pipeline.counters, ingestTime: ingestTime, report: StandardError.report
        )
        let opened = readers
        return try await withThrowingTaskGroup(of: Ingest.Outcome?.self) { group in
            group.addTask {
                try await pipeline.run()
                return nil
            }
            group.addTask {
                defer { pipeline.input.finish() }
                for (reader, name) in opened {
                    let outcome = try await ingest.run(reader, source: name)
                    if case .stopped = outcome { return outcome }
                }
                return .completed
            }
            var outcome = Ingest.Outcome.completed
            for try await result in group {
                if let result { outcome = result }
            }
            return outcome
        }
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
