#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Synchronization
import SluiceModel
import SluicePipeline

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
        let interactive = isatty(1) == 1
        let outcome = try await TailRunner(
            configuration: configuration.ingestConfiguration(strict: options.strict),
            renderer: TailRenderer(interactive: interactive, limit: limit),
            clock: ContinuousClock(), interval: .seconds(1),
            write: { StandardOutput.write($0) }
        ).run(FileDescriptorReader(descriptor: 0), ingestTime: { Timestamp.now() })
        if case .stopped = outcome { throw ExitCode(65) }
    }
}

/// Feeds a byte stream into rolling windows and renders a snapshot on every clock tick and at
/// the end. Generic over the clock so tests drive the ticks.
struct TailRunner<C: Clock>: Sendable where C.Duration == Duration {
    let configuration: Ingest.Configuration
    let renderer: TailRenderer
    let clock: C
    let interval: Duration
    let write: @Sendable (String) -> Void

    func run<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks, ingestTime: (@Sendable () -> Timestamp)?) async throws -> Ingest.Outcome
    where Chunks.Element == [UInt8] {
        let state = LiveRolling()
        let channel = BoundedChannel<RecordBatch>(capacity: 4)
        let ingest = Ingest(configuration: configuration, output: channel, counters: PipelineCounters(), ingestTime: ingestTime, report: StandardError.report)
        let outcome = try await withThrowingTaskGroup(of: TailTask.self) { group in
            group.addTask {
                defer { channel.finish() }
                return .ingest(try await ingest.run(chunks))
            }
            group.addTask {
                for await batch in channel { state.record(batch.records) }
                return .consumed
            }
            group.addTask {
                while !Task.isCancelled {
                    try await clock.sleep(for: interval)
                    write(renderer.render(state.snapshot()))
                }
                return .ticker
            }
            var outcome = Ingest.Outcome.completed
            var remaining = 2
            while remaining > 0, let done = try await group.next() {
                switch done {
                case .ingest(let o): outcome = o; remaining -= 1
                case .consumed: remaining -= 1
                case .ticker: break
                }
            }
            group.cancelAll()
            return outcome
        }
        write(renderer.render(state.snapshot()))
        return outcome
    }
}

/// Which of `TailRunner`'s tasks ended.
enum TailTask: Sendable {
    case ingest(Ingest.Outcome), consumed, ticker
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
