#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Benchmark
import SluiceModel
import SluicePipeline
import SluiceStore
import SluiceCLI

/// Metric lines as a new user sends them: RFC 3339 timestamps with milliseconds, a tenant, a
/// name, one label; about 111 bytes. `series` distinct series, timestamps 10,000 a second.
func metricLines(count: Int, series: Int = 1_000, seed: UInt64 = 42) -> [UInt8] {
    var random = SeededRandom(seed: seed)
    var out: [UInt8] = []
    out.reserveCapacity(count * 112)
    let names = ["req_ms", "cpu_util", "queue_len", "heap_mb", "gc_ms"]
    let base: Int64 = 1_795_600_000_000
    for i in 0..<count {
        let s = Int(random.next() % UInt64(series))
        let millis = base + Int64(i) / 10 - Int64(random.next() % 2_000)
        let value = Double(random.next() % 1_000_000) / 100
        var stamp: [UInt8] = []
        RFC3339.append(Timestamp(microseconds: millis * 1_000), to: &stamp)
        let line = #"{"timestamp":"\#(String(decoding: stamp, as: UTF8.self))","tenant_id":"t\#(s % 20)","metric_name":"\#(names[s % 5])","labels":{"host":"h\#(s)"},"value":\#(value)}"# + "\n"
        out.append(contentsOf: line.utf8)
    }
    return out
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident]
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(3), maxIterations: 10_000)

    // What the harness allocates around an iteration that does nothing: the floor of every
    // malloc count below.
    Benchmark("harness: an empty iteration") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(benchmark) }
    }

    // Parse and aggregate at 1,000 and at 10,000 records an iteration: allocations made per
    // record would grow tenfold; those made per batch (the batch's own arrays) barely grow.
    for (perIteration, count) in [(1_000, "1,000"), (10_000, "10,000")] {
        // Parse: lines into records, by a decoder whose intern table has seen the stream, as
        // every decoder of a long stream soon has.
        let lines = metricLines(count: perIteration)
        var warmed = IngestDecoder(decoder: .init())
        lines.withUnsafeBufferPointer { warmed.feed($0, now: nil, source: nil) }
        let table = warmed.intern
        Benchmark("parse: \(count) RFC 3339 lines") { benchmark in
            for _ in benchmark.scaledIterations {
                var decoder = IngestDecoder(decoder: .init(), intern: table)
                lines.withUnsafeBufferPointer { decoder.feed($0, now: nil, source: nil) }
                let batch = decoder.take()
                precondition(batch.records.count == perIteration && batch.rejections.isEmpty)
                blackHole(batch)
            }
        }

        // Aggregate: the records into the open 1m window of a machine that knows their series.
        let records = warmed.take().records
        let windowed = records.map { record -> Record in
            guard case .metric(var m) = record else { return record }
            m.timestamp = Timestamp(microseconds: 1_795_600_000_000_000)  // one window: nothing fires
            return .metric(m)
        }
        // Warmed when the suite is set up, so the iterations measure only the steady state. Taken
        // as the stage takes a batch (borrowed in place, with its look-ahead).
        let warm = WarmMachine(windows: [.minutes(1)])
        windowed.withUnsafeBufferPointer { warm.machine.take($0, into: &warm.events) }
        Benchmark("aggregate: \(count) records into open windows") { benchmark in
            for _ in benchmark.scaledIterations {
                windowed.withUnsafeBufferPointer { warm.machine.take($0, into: &warm.events) }
                warm.events.removeAll(keepingCapacity: true)
            }
        }
    }

    // The run pipeline: 200,000 lines, decoded on every core, windowed (1m) and written as
    // NDJSON to /dev/null, as `sluice run --window 1m` does.
    let stream = metricLines(count: 200_000)
    Benchmark("pipeline: 200,000 lines, as sluice run", configuration: .init(scalingFactor: .one, maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            try await runPipeline(stream, store: nil)
        }
    }

    // The same with the store: raw records and windows into segment files (zstd), sealed.
    Benchmark("pipeline with store: 200,000 lines, as sluice run --data-dir", configuration: .init(scalingFactor: .one, maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            var template = Array("/tmp/sluice-bench-XXXXXX".utf8CString)
            let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
            defer { _ = system("rm -rf '\(path)'") }
            let directory = try DataDirectory(path: path, create: true)
            let writer = SegmentWriter(replayConfiguration: .init(), directory: directory, report: { _ in })
            try await runPipeline(stream, store: writer)
        }
    }

    // The anomaly model: one series of 10,000 points (a daily-like wave with noise), scored and
    // learnt point by point, as the detector does for each statistic of each closed window.
    var wave = SeededRandom(seed: 7)
    var points: [Double] = []
    for i in 0..<10_000 {
        let phase = Double(i) * 2 * Double.pi / 288
        let noise = Double(wave.next() % 1_000) / 100
        points.append(100 + 40 * sin(phase) + noise)
    }
    Benchmark("anomaly model: 10,000 points of one series") { benchmark in
        for _ in benchmark.scaledIterations {
            var model = AnomalyModel()
            for p in points { blackHole(model.observe(p)) }
        }
    }

    // HTTP ingest: the same 200,000 lines POSTed as NDJSON bodies of 1,000-5,000 lines by 4
    // keep-alive clients to an in-process server (no store), until its pipeline has drained.
    let load = HTTPLoad(workload: stream, clients: 4, seed: 42)
    Benchmark("http ingest: 200,000 lines, 4 clients", configuration: .init(scalingFactor: .one, maxIterations: 20)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await load.run())
        }
    }
}

/// A window aggregator that outlives one iteration (the benchmark closure runs it in turn, never
/// at once).
final class WarmMachine: @unchecked Sendable {
    var machine: WindowAggregator.StateMachine
    var events: [StageEvent] = []

    init(windows: [WindowDuration]) {
        machine = WindowAggregator.StateMachine(configuration: .init(windows: windows))
        events.reserveCapacity(16)
    }
}

func runPipeline(_ bytes: [UInt8], store: (any StoreStage)?) async throws {
    let devNull = open("/dev/null", O_WRONLY)
    defer { close(devNull) }
    let pipeline = Pipeline(configuration: .init(aggregator: .init(windows: [.minutes(1)])), sinks: [NDJSONSink(descriptor: devNull)], store: store)
    let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ContinuousClock(), ingestTime: nil)
    async let drained: Void = pipeline.run()
    _ = try await edge.stream(MemoryChunks(bytes: bytes, chunkBytes: 256 << 10)) { _ in }
    pipeline.finishInput(.flush)
    try await drained
}
