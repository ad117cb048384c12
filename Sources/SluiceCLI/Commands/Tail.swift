#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Synchronization
import SluiceModel
import SluicePipeline
import ServiceLifecycle

/// `sluice tail`: rolling aggregates of stdin, redrawn every second.
struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show rolling aggregates of NDJSON records from stdin, refreshed every second.",
        usage: """
            sluice tail [--window <D> ...] [--lateness <D>] [<options>] < FILE.ndjson
            sluice tail --server <URL> [--token <TOKEN>] [--once] [--limit <N>]
            """,
        discussion: """
            Per series: count, rate per second, mean, p95 and p99 over the last 1, 5 and 15 \
            minutes of event time (ending at the newest record), or over the spans given with \
            --window (whole seconds). A record more than --lateness behind the newest record \
            (default 5s, or pipeline.lateness) is not counted: the footer shows how many came \
            that late. Caches show hits, misses and hit ratio; sites show visits and unique \
            visitors. On a terminal the table is redrawn in place; otherwise a plain snapshot \
            is printed every second. At the end of input a last snapshot is printed.

            With --server, follows a running `sluice serve` instead: it starts with the newest \
            closed window of every series the server holds, then shows each window as it \
            closes, from the server's live stream. --once prints that first view and exits.

            Examples:
              tail -f app.ndjson | sluice tail
              sluice tail --window 10s --window 1m --lateness 2s < app.ndjson
              sluice tail --server http://127.0.0.1:8080
              sluice tail --server http://127.0.0.1:8080 --once
            """
    )

    @OptionGroup(title: "Rolling view (stdin)") var options: PipelineOptions

    @Option(help: ArgumentHelp("Most series rows shown (the busiest first).", valueName: "N"))
    var limit = 40

    @Option(help: ArgumentHelp("Follow a running `sluice serve` through its live stream instead of reading stdin.", valueName: "URL"))
    var server: String?

    @Option(help: ArgumentHelp("Bearer token for --server.", valueName: "TOKEN"))
    var token: String?

    @Flag(help: "With --server: print the newest closed windows once and exit, for scripts.")
    var once = false

    func validate() throws {
        if once, server == nil { throw ValidationError("--once needs --server: from stdin, tail prints a last snapshot at the end of input") }
        for w in options.windows {
            if let span = WindowDuration(parsing: w), !RollingWindows.isWholeSeconds(span) {
                throw ValidationError("--window \(w): rolling spans are whole seconds, such as 10s, 1m or 15m")
            }
        }
    }

    func run() async throws {
        if let server {
            do {
                try await ServerTail(url: server, token: token, interactive: isatty(1) == 1 && !once, limit: limit)
                    .run(clock: ContinuousClock(), once: once)
            } catch let error as ServerTail.TailError {
                throw ValidationError(error.description)
            }
            return
        }
        let configuration = try options.resolvedConfiguration()
        let spans = options.windows.isEmpty ? RollingWindows.defaultHorizons : options.windows.compactMap { WindowDuration(parsing: $0) }
        let renderer = TailRenderer(interactive: isatty(1) == 1, limit: limit)
        let rolling = LiveRolling(RollingWindows(horizons: spans, lateness: configuration.pipeline.lateness))
        let ticker = TailTicker(rolling: rolling, renderer: renderer, clock: ContinuousClock(), interval: .seconds(1)) { StandardOutput.write($0) }
        // The same topology as `run`: its windows go nowhere, the rolling view taps the edge.
        let outcome = try await StreamRunner(
            configuration: configuration, strict: options.strict, sinks: [], ingestTime: { Timestamp.now() },
            recordTap: { rolling.record($0) }, extraServices: [ticker]
        ).run(sources: [.standardInput])
        StandardOutput.write(renderer.render(rolling.snapshot()))
        if case .stopped = outcome { throw ExitCode(65) }
    }
}

/// Renders the rolling windows on every tick of its clock until a graceful shutdown; generic
/// over the clock so tests drive the ticks.
struct TailTicker<C: Clock>: Service where C.Duration == Duration {
    let rolling: LiveRolling
    let renderer: TailRenderer
    let clock: C
    let interval: Duration
    let write: @Sendable (String) -> Void

    func run() async throws {
        try? await cancelWhenGracefulShutdown { () async throws -> Void in
            while true {
                try await clock.sleep(for: interval)
                write(renderer.render(rolling.snapshot()))
            }
        }
    }
}

/// Rolling windows shared between the task that feeds them and the one that renders them.
final class LiveRolling: Sendable {
    private let state: Mutex<RollingWindows>

    init(_ rolling: RollingWindows) { state = Mutex(rolling) }

    func record(_ batch: [Record]) {
        state.withLock { rolling in for r in batch { rolling.record(r) } }
    }

    func snapshot() -> RollingSnapshot { state.withLock { $0.snapshot() } }
}

/// Lines to stdout.
enum StandardOutput {
    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}
