import ArgumentParser
import SluiceModel
import SluicePipeline
import SluiceServer

/// `sluice run`: NDJSON on stdin → output records on stdout.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Aggregate NDJSON records from stdin; write output records as NDJSON to stdout.",
        usage: "sluice run [<options>] < FILE.ndjson",
        discussion: """
            Each input line is one JSON object: a metric, cache, performance, token_usage or visit \
            record with its fields (see the README, Input records). A record without a \
            timestamp takes the time it was read. Windows close as \
            event time advances (largest timestamp seen minus --lateness) and every open window \
            closes at the end of input; a summary record ends the output. Malformed lines are \
            reported on stderr as "line N: reason" and counted; the rest is processed. With \
            --data-dir, raw records and window aggregates are also stored (see `sluice query`), \
            and the retention policy is applied every retention.interval. SIGINT or SIGTERM stops \
            reading, drains what is in flight, seals the store and exits 0; without --data-dir \
            the open windows close and are written, with it they are checkpointed instead, and \
            the next run on the same directory resumes them (no window is stored twice).

            Example:
              printf '%s\\n' \\
                '{"metric_name":"cpu","value":0.5,"timestamp":"2026-11-24T10:00:00Z"}' \\
                | sluice run
            """
    )

    @OptionGroup var options: PipelineOptions

    @Option(help: ArgumentHelp("Also store raw records and window aggregates in this data directory.", valueName: "DIR"))
    var dataDir: String?

    func run() async throws {
        let configuration = try options.resolvedConfiguration()
        let outcome = try await StreamRunner(
            configuration: configuration, strict: options.strict,
            sinks: [NDJSONSink(descriptor: 1)], ingestTime: { Timestamp.now() }, dataDirectory: dataDir
        ).run(sources: [.standardInput])
        if case .stopped = outcome { throw ExitCode(65) }
    }
}
