import ServiceLifecycle
import SluicePipeline

/// stdin or files, read in order as one stream into the ingest edge.
///
/// At the end of the input it ends the pipeline's input with a flush (every open window
/// fires); on a graceful shutdown it stops at the next chunk and leaves the ending to the
/// pipeline (a suspend: open windows are checkpointed when there is a store).
public struct StreamSource: Service {
    public enum Input: Sendable {
        case standardInput
        case file(String)
    }

    let readers: [(FileDescriptorReader, String?)]
    let edge: IngestEdge
    let pipeline: Pipeline
    let stop = StopSignal()
    let report: @Sendable (LineError) -> Void
    /// How the stream ended, once it has.
    public let outcome = Watched<IngestEdge.Outcome?>(nil)

    /// Opens every file first: a typo in the last name should not cost a long replay.
    public init(_ inputs: [Input], topology: Topology, report: @escaping @Sendable (LineError) -> Void) throws {
        var readers: [(FileDescriptorReader, String?)] = []
        for input in inputs {
            switch input {
            case .standardInput: readers.append((FileDescriptorReader(descriptor: 0, stop: stop), nil))
            case .file(let path): readers.append((try FileDescriptorReader.open(path: path, stop: stop), path))
            }
        }
        self.readers = readers
        edge = topology.edge
        pipeline = topology.pipeline
        self.report = report
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            var ended = IngestEdge.Outcome.completed
            do {
                for (reader, name) in readers {
                    ended = try await edge.stream(reader, source: name, report: report)
                    if case .stopped = ended { break }
                }
            } catch is ChannelClosedError {
                // The pipeline failed (a store that cannot write) and stopped taking input: its
                // own error is the one to report, not that the reading had to stop.
                return
            }
            outcome.update { $0 = ended }
        } onGracefulShutdown: {
            stop.set()
        }
        if !stop.isSet { pipeline.finishInput(.flush) }
    }
}
