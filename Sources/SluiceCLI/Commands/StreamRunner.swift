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
import Logging
import ServiceLifecycle

/// `run`, `replay` and `tail` on the one topology: stdin or files as the source, the
/// command's sinks, and the store when there is a data directory. SIGINT or SIGTERM stops the
/// source; the pipeline drains and the store seals.
struct StreamRunner {
    let configuration: Configuration
    let strict: Bool
    let sinks: [any Sink]
    /// `nil` in replay: time comes from the records alone.
    let ingestTime: (@Sendable () -> Timestamp)?
    /// Store raw records and aggregates here.
    var dataDirectory: String?
    /// `tail`: sees every batch of records taken, and runs beside the pipeline.
    var recordTap: (@Sendable ([Record]) -> Void)?
    var extraServices: [any Service] = []

    /// Reads every source in order, then lets the pipeline drain. Returns how the input ended.
    func run(sources inputs: [StreamSource.Input]) async throws -> IngestEdge.Outcome {
        var options = Topology.Options(dataDirectory: dataDirectory, ingestTime: ingestTime, sinks: sinks, report: Self.log)
        options.edge = .stream(configuration, strict: strict)
        options.recordTap = recordTap
        options.pruned = { result in
            switch result {
            case .success(let report) where report.removedRecords > 0 || report.refusal != nil:
                for line in PruneReportText.render(report).split(separator: "\n") { Self.log("retention: \(line)") }
            case .success:
                break
            case .failure(let error):
                Self.log("retention: \(error)")
            }
        }
        let topology: Topology
        let source: StreamSource
        do {
            topology = try Topology(configuration: configuration, options: options)
            source = try StreamSource(inputs, topology: topology, report: StandardError.report)
        } catch let error as ServerError {
            throw ValidationError(error.description)
        }
        defer { topology.store?.release() }
        let group = topology.group(sources: extraServices + [source], logger: Logger(label: "sluice", factory: { _ in SwiftLogNoOpLogHandler() }))
        ShutdownSignals.install { await group.triggerGracefulShutdown() }
        defer { ShutdownSignals.uninstall() }
        try await group.run()
        return source.outcome.value ?? .completed
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
