#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import SluiceModel
import SluicePipeline
import SluiceStore

/// `sluice bench`: seeded workloads, timed in-process.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure parse and pipeline throughput on a seeded workload.",
        usage: "sluice bench [<options>]",
        discussion: """
            Generates ~110-byte metric lines (the same for a given --seed) and reports events per \
            second, the median of --runs runs, for parsing alone and for the whole run pipeline \
            (decode, window aggregation, output) fed from memory. Build with -c release for \
            meaningful figures. --write FILE saves the workload instead, to time `sluice run < FILE`. \
            --http also times HTTP ingest of the same lines into an in-process server (no store), \
            from the first request until the pipeline has drained, and its ratio to the pipeline fed \
            from memory as `sluice run` feeds it from stdin. --latency then feeds the workload \
            again at --load times the measured pipeline rate (0.7 by default), a millisecond's \
            worth of bytes at a time as a socket reader gets them, and reports the median, 99th \
            percentile and maximum time from a line's read to its record being in the window state.

            --query measures store reads instead: it writes --series series × --days days of 1m \
            windows with sketches through the segment writer (an hour a block and a segment), then \
            asks for one series over one hour and for every series over one day, and reports for \
            each the median time and peak memory growth of loading every match and sorting (how \
            queries read before they streamed), of `records` and of `forEach` (streamed), each run \
            in a fresh child process.
            """
    )

    @Option(help: "Records in the workload.") var records = 2_000_000
    @Option(help: "Seed of the workload generator.") var seed: UInt64 = 42
    @Option(help: "Timed runs; the median is reported.") var runs = 5
    @Option(name: .customLong("window"), help: ArgumentHelp("Window lengths of the pipeline run.", valueName: "D"))
    var windows: [String] = ["1m"]
    @Option(help: ArgumentHelp("Write the workload to FILE and exit.", valueName: "FILE")) var write: String?
    @Flag(help: "Also measure HTTP ingest: an in-process server fed the same lines by concurrent keep-alive clients, as NDJSON bodies of 1,000-5,000 records built beforehand.")
    var http = false
    @Option(help: ArgumentHelp("Concurrent clients for --http.", valueName: "N")) var clients = 4
    @Flag(help: "Also measure latency, from reading a line to its effect in the window state, with the workload fed at --load times the maximum rate.")
    var latency = false
    @Option(help: ArgumentHelp("Share of the measured maximum rate that --latency feeds.", valueName: "FRACTION")) var load = 0.7
    @Flag(help: "Measure store queries instead: a small and a large answer from a store much larger than either.")
    var query = false
    @Option(help: ArgumentHelp("Series in the --query store.", valueName: "N")) var series = 1_000
    @Option(help: ArgumentHelp("Days of 1m windows in the --query store.", valueName: "N")) var days = 3
    @Option(help: ArgumentHelp("Samples in each window's sketch in the --query store.", valueName: "N")) var sketchValues = 50
    @Option(help: ArgumentHelp("Keep the --query store in DIR, and reuse the one there.", valueName: "DIR")) var dataDir: String?
    // One read of --query, run in a child process so that its memory is its own.
    @Option(help: .hidden) var queryChild: String?
    @Option(help: .hidden) var queryStore: String?
    @Option(help: .hidden) var queryReport: String?

    func validate() throws {
        guard records > 0, runs > 0 else { throw ValidationError("--records and --runs must be above zero") }
        guard load > 0, load <= 1 else { throw ValidationError("--load must be above 0 and at most 1 (a share of the maximum rate), not \(load)") }
        if query {
            // The small answer is series 7; both answers are on the second day.
            guard series > 7, days >= 2, sketchValues > 0 else { throw ValidationError("--query needs --series above 7, --days of 2 or more and --sketch-values above zero") }
        }
        for w in windows {
            if case .failure(let problem) = WindowDuration.parseUserInput(w, name: "--window") { throw ValidationError(problem.description) }
        }
    }

    func run() async throws {
        if let queryChild, let queryStore, let queryReport {
            try QueryBench.runChild(queryChild, store: queryStore, report: queryReport)
            return
        }
        if query {
            try await QueryBench(series: series, days: days, values: sketchValues, runs: runs, seed: seed).run(path: dataDir)
            return
        }
        let workload = Workload.metricLines(count: records, seed: seed)
        if let write {
            let sink = try NDJSONSink.create(path: write)
            try sink.writeRaw(workload)
            try await sink.finish()
            print("wrote \(records) records, \(workload.count) bytes (\(workload.count / records) bytes per line) to \(write)")
            return
        }
        print("workload: \(records) metric records, \(workload.count / records) bytes per line, seed \(seed)")
        var parse: [Double] = []
        var aggregate: [Double] = []
        var pipeline: [Double] = []
        let lengths = windows.compactMap { WindowDuration(parsing: $0) }
        let decoded = Self.decodeAll(workload)
        for _ in 0..<runs {
            parse.append(Double(records) / time { Self.parseOnly(workload) })
            aggregate.append(Double(records) / time { Self.aggregateOnly(decoded, windows: lengths) })
            let seconds = try await timeAsync { try await Self.pipeline(workload, windows: lengths) }
            pipeline.append(Double(records) / seconds)
        }
        print("parse only:     \(Self.format(median(parse))) events/s (median of \(runs); runs: \(parse.map(Self.format).joined(separator: ", ")))")
        print("aggregate only: \(Self.format(median(aggregate))) events/s (median of \(runs); runs: \(aggregate.map(Self.format).joined(separator: ", ")))")
        print("run pipeline:   \(Self.format(median(pipeline))) events/s (median of \(runs); runs: \(pipeline.map(Self.format).joined(separator: ", ")))")
        if latency {
            let bench = LatencyBench(workload: workload, windows: lengths, rate: median(pipeline) * load)
            var results: [LatencyBench.Result] = []
            for _ in 0..<runs { results.append(try await bench.run()) }
            func ms(_ d: Duration) -> Double { (Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15) }
            func show(_ values: [Double]) -> String { "\((median(values) * 100).rounded() / 100) ms" }
            print("latency at \(Int((load * 100).rounded()))% (\(Self.format(median(results.map(\.fedRate)))) events/s fed): "
                + "p50 \(show(results.map { ms($0.p50) })), p99 \(show(results.map { ms($0.p99) })), max \(show(results.map { ms($0.maximum) })) "
                + "(medians of \(runs) runs, read to window state)")
        }
        guard http else { return }
        let load = HTTPLoad(workload: workload, clients: clients, seed: seed)
        var posted: [Double] = []
        for _ in 0..<runs { posted.append(Double(load.records) / (try await load.run())) }
        print("http ingest:    \(Self.format(median(posted))) events/s (median of \(runs); runs: \(posted.map(Self.format).joined(separator: ", "))); \(clients) clients, \(load.bodies.count) bodies")
        print("http / run pipeline: \((median(posted) / median(pipeline) * 100).rounded() / 100)")
    }

    static func parseOnly(_ workload: [UInt8]) -> Int {
        let decoder = NDJSONDecoder()
        var splitter = LineSplitter(maximumLineBytes: 1 << 20)
        var decoded = 0
        workload.withUnsafeBufferPointer { bytes in
            splitter.feed(bytes) { line in
                if case .line(let l, _) = line, case .success = decoder.decode(l, ingestTime: nil) { decoded += 1 }
            }
        }
        return decoded
    }

    static func decodeAll(_ workload: [UInt8]) -> [Record] {
        let decoder = NDJSONDecoder()
        var splitter = LineSplitter(maximumLineBytes: 1 << 20)
        var out: [Record] = []
        workload.withUnsafeBufferPointer { bytes in
            splitter.feed(bytes) { line in
                if case .line(let l, _) = line, case .success(let r) = decoder.decode(l, ingestTime: nil) { out.append(r) }
            }
        }
        return out
    }

    static func aggregateOnly(_ records: [Record], windows: [WindowDuration]) -> Int {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: windows))
        var events: [StageEvent] = []
        for r in records { machine.record(r, into: &events) }
        machine.inputFinished(into: &events)
        return events.count
    }

    static func pipeline(_ workload: [UInt8], windows: [WindowDuration]) async throws {
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        let pipeline = Pipeline(
            configuration: .init(aggregator: .init(windows: windows)),
            sinks: [NDJSONSink(descriptor: devNull)]
        )
        let edge = IngestEdge(configuration: .init(), pipeline: pipeline, clock: ContinuousClock(), ingestTime: nil)
        let chunks = MemoryChunks(bytes: workload, chunkBytes: 256 << 10)
        async let drained: Void = pipeline.run()
        _ = try await edge.stream(chunks) { _ in }
        pipeline.finishInput(.flush)
        try await drained
    }

    static func format(_ rate: Double) -> String {
        rate >= 1_000_000 ? "\((rate / 10_000).rounded() / 100)M" : "\((rate / 10).rounded() / 100)k"
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func time(_ body: () -> Int) -> Double {
    let start = ContinuousClock.now
    _ = body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func timeAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
