import ArgumentParser

/// The `sluice` command.
public struct Sluice: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A streaming analytics pipeline: NDJSON records in, rolling-window aggregates out.",
        discussion: """
            Sluice reads metrics, cache statistics, performance samples, page visits and LLM token \
            usage as NDJSON (one JSON object per line) and turns them, as they stream in, into \
            event-time window aggregates: exact counts, sums, minimum and maximum, percentiles \
            within 1%, and unique visitors.

            Examples:
              sluice replay Fixtures/demo/input.ndjson
              tail -f app.ndjson | sluice run --window 10s --window 1m
              sluice tail < app.ndjson
            """,
        version: "0.1.0",
        subcommands: [Run.self, Replay.self, Serve.self, Tail.self, Query.self, Verify.self, Prune.self, Stats.self, Detect.self, Bench.self, Cluster.self]
    )

    public init() {}
}
