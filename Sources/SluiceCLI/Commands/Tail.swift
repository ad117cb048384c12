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
        abstract: "Show rolling 1m/5m/15m aggregates of NDJSON records from stdin, refreshed every second.",
        discussion: """
            Per series: count, rate per second, mean, p95 and p99 over the last 1, 5 and 15 \
            minutes of event time (ending at the newest record). Caches show hits, misses and hit \
            ratio; sites show visits and unique visitors. On a terminal the table is redrawn in \
            place; otherwise a plain snapshot is printed every second. At the end of input a \
            last snapshot is printed. With --server, follows a running `sluice serve` instead: \
            the newest closed window of every series, from its live stream.

            Examples:
              tail -f app.ndjson | sluice tail
              sluice tail --server http://127.0.0.1:8080
            """
    )

    @OptionGroup var options: PipelineOptions

    @Option(help: ArgumentHelp("Most series rows shown (the busiest first).", valueName: "N"))
    var limit = 40

    @Option(help: ArgumentHelp("Follow a running `sluice serve` through its live stream instead of reading stdin.", valueName: "URL"))
    var server: String?

    @Option(help: ArgumentHelp("Bearer token for --server.", valueName: "TOKEN"))
    var token: String?

    func run() async throws {
        if let server {
            do {
                try await ServerTail(url: server, token: token, interactive: isatty(1) == 1, limit: limit).run(clock: ContinuousClock())
            } catch let error as ServerTail.TailError {
                throw ValidationError(error.description)
            }
            return
        }
        let configuration = try options.resolvedConfiguration()
        let renderer = TailRenderer(interactive: isatty(1) == 1, limit: limit)
        let rolling = LiveRolling()
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
    private let state = Mutex(RollingWindows())

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
