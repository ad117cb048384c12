import ArgumentParser
import SluiceModel
import SluicePipeline
import SluiceServer

/// `sluice replay`: the same pipeline over files, on event time alone.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay NDJSON files through the pipeline, deterministically.",
        usage: "sluice replay <FILE> ... [<options>]",
        discussion: """
            The files are read in order as one stream. Time is virtual: it comes only from the \
            records, so a record without a timestamp is an error, and two replays of the same \
            files write byte-identical output — the same bytes `sluice run` writes for them. \
            With --data-dir, records are stored too; blocks are cut by size (store.flush_records), \
            not by the wall clock, and retention is not applied (use `sluice prune --now TIME`).

            Example:
              sluice replay Fixtures/demo/input.ndjson --window 10s --output out.ndjson
            """
    )

    @Argument(help: ArgumentHelp("NDJSON files to replay, in order.", valueName: "FILE"))
    var files: [String]

    @OptionGroup var options: PipelineOptions

    @Option(help: ArgumentHelp("Write output records to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    @Option(help: ArgumentHelp("Also store raw records and window aggregates in this data directory.", valueName: "DIR"))
    var dataDir: String?

    func run() async throws {
        let configuration = try options.resolvedConfiguration()
        let sink = try output.map { try NDJSONSink.create(path: $0) } ?? NDJSONSink(descriptor: 1)
        let outcome = try await StreamRunner(
            configuration: configuration, strict: options.strict, sinks: [sink], ingestTime: nil, dataDirectory: dataDir
        ).run(sources: files.map { .file($0) })
        if case .stopped = outcome { throw ExitCode(65) }
    }
}
