#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SluiceModel
import SluicePipeline

/// `sluice bench --latency`: the workload fed at a steady rate below the maximum, as a reader
/// of a socket or a pipe would get it, and for every line the time from its read to its record
/// being in the window state (the aggregator's progress counter passing it).
///
/// Nothing is added to the hot path: the reads are logged by the paced source, the effects by
/// a task that waits on `Pipeline.progress`, and the two logs are matched line by line after.
struct LatencyBench {
    let workload: [UInt8]
    let windows: [WindowDuration]
    /// Lines a second to feed.
    let rate: Double

    struct Result {
        var p50: Duration
        var p99: Duration
        var maximum: Duration
        /// Lines a second actually fed, from the first read to the last.
        var fedRate: Double
        var lines: Int
    }

    /// Marks on a timeline: after `instant`, `count` lines in all had been read (or aggregated).
    final class Log: Sendable {
        private let marks = Mutex<[(count: Int, instant: ContinuousClock.Instant)]>([])
        func mark(_ count: Int, _ instant: ContinuousClock.Instant) { marks.withLock { $0.append((count, instant)) } }
        var all: [(count: Int, instant: ContinuousClock.Instant)] { marks.withLock { $0 } }
    }

    func run() async throws -> Result {
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        let pipeline = Pipeline(configuration: .init(aggregator: .init(windows: windows)), sinks: [NDJSONSink(descriptor: devNull)])
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ContinuousClock(), ingestTime: nil)
        let lines = workload.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let reads = Log(), effects = Log()
        let progress = pipeline.progress
        let watcher = Task {
            var seen: UInt64 = 0
            while seen < UInt64(lines), !Task.isCancelled {
                let after = seen
                await progress.wait { $0.recordsAggregated > after }
                let now = ContinuousClock.now
                seen = progress.value.recordsAggregated
                effects.mark(Int(seen), now)
            }
        }
        async let drained: Void = pipeline.run()
        let bytesPerLine = Double(workload.count) / Double(max(1, lines))
        let chunks = PacedChunks(bytes: workload, bytesPerSecond: rate * bytesPerLine, reads: reads)
        _ = try await edge.stream(chunks) { _ in }
        pipeline.finishInput(.flush)
        try await drained
        await watcher.value
        return Self.match(reads: reads.all, effects: effects.all, lines: lines)
    }

    /// Each line's latency: the first effect mark that covers it less the first read mark that does.
    static func match(reads: [(count: Int, instant: ContinuousClock.Instant)], effects: [(count: Int, instant: ContinuousClock.Instant)], lines: Int) -> Result {
        var latencies: [Duration] = []
        latencies.reserveCapacity(lines)
        var r = 0, e = 0
        for line in 0..<lines {
            while r < reads.count, reads[r].count <= line { r += 1 }
            while e < effects.count, effects[e].count <= line { e += 1 }
            guard r < reads.count, e < effects.count else { break }
            latencies.append(effects[e].instant - reads[r].instant)
        }
        latencies.sort()
        func percentile(_ p: Double) -> Duration {
            latencies.isEmpty ? .zero : latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.down)))]
        }
        var fed = 0.0
        if let first = reads.first, let last = reads.last, last.instant > first.instant {
            let span = last.instant - first.instant
            fed = Double(last.count - first.count) / (Double(span.components.seconds) + Double(span.components.attoseconds) / 1e18)
        }
        return Result(p50: percentile(0.5), p99: percentile(0.99), maximum: latencies.last ?? .zero, fedRate: fed, lines: latencies.count)
    }
}

/// The workload handed over at a steady byte rate: every millisecond, what has become due
/// since the last hand-over (at most 256 KiB), as a read of a socket gives what has arrived.
/// Each hand-over is logged with the number of whole lines read so far.
struct PacedChunks: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let bytes: [UInt8]
    let bytesPerSecond: Double
    let reads: LatencyBench.Log

    struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        let bytesPerSecond: Double
        let reads: LatencyBench.Log
        var start: ContinuousClock.Instant?
        var offset = 0
        var lines = 0

        mutating func next() async throws -> [UInt8]? {
            guard offset < bytes.count else { return nil }
            let clock = ContinuousClock()
            let start = self.start ?? clock.now
            self.start = start
            var due = 0
            while true {
                let elapsed = clock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                due = Swift.min(bytes.count, Int(seconds * bytesPerSecond))
                if due > offset { break }
                // Pacing the source, not waiting for a result: the next millisecond's bytes.
                try await Task.sleep(for: .milliseconds(1), tolerance: .microseconds(100), clock: clock)
            }
            let end = Swift.min(due, offset + 256 << 10)
            let chunk = Array(bytes[offset..<end])
            lines += chunk.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            offset = end
            reads.mark(lines, clock.now)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, bytesPerSecond: bytesPerSecond, reads: reads) }
}
