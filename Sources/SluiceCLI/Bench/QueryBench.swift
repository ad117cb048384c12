#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel
import SluicePipeline
import SluiceStore

/// `sluice bench --query`: a store far larger than the answers asked of it, written by the
/// segment writer, and for a small and a large answer the time and memory of three reads:
/// loading every match and sorting (how queries read before they streamed), `records`
/// (streamed, gathered into the answer) and `forEach` (streamed, nothing kept). Each read
/// runs in a child process, so its memory is measured in a fresh heap.
struct QueryBench {
    var series: Int
    var days: Int
    /// Samples in each window's sketch.
    var values: Int
    var runs: Int
    var seed: UInt64

    /// 2026-11-24T00:00:00Z: the store's first window.
    static let start: Int64 = 1_795_478_400_000_000

    /// What is asked of the store.
    enum Answer: String, CaseIterable {
        /// One series for one hour of the second day.
        case small
        /// Every series for the whole second day.
        case large

        var query: StoreQuery {
            let day = QueryBench.start + WindowDuration.days(1).microseconds
            switch self {
            case .small:
                let from = day + WindowDuration.hours(12).microseconds
                return StoreQuery(kinds: [.window], tenantID: QueryBench.tenant(7), metric: QueryBench.name(7),
                                  from: Timestamp(microseconds: from), to: Timestamp(microseconds: from + WindowDuration.hours(1).microseconds))
            case .large:
                return StoreQuery(kinds: [.window], from: Timestamp(microseconds: day), to: Timestamp(microseconds: day + WindowDuration.days(1).microseconds))
            }
        }

        var title: String {
            switch self {
            case .small: "small answer (one series, one hour)"
            case .large: "large answer (every series, one day)"
            }
        }
    }

    /// How the answer is read.
    enum Read: String, CaseIterable {
        case loadAll = "load-all"
        case gathered = "records"
        case streamed = "for-each"
    }

    /// One child's figures.
    struct Measurement {
        var seconds: Double
        /// Peak resident memory above what the child had before the read, in KiB.
        var growthKB: Int
        var records: Int
        var decodedBlocks: Int
        var peakBlocks: Int
    }

    static func name(_ series: Int) -> String { "series_\(String(repeating: "0", count: max(0, 4 - String(series).count)))\(series)" }
    static func tenant(_ series: Int) -> String { "t\(series % 10)" }

    /// Builds the store (or reuses the one at `path`), measures, and prints the figures.
    func run(path: String?) async throws {
        let directory = path ?? TemporaryDirectory.make()
        defer { if path == nil { TemporaryDirectory.remove(directory) } }
        let store = try DataDirectory(path: directory, create: true)
        if try store.segments().isEmpty {
            let seconds = try await timeAsync { try await write(store) }
            print("wrote the store in \(Self.format(seconds, digits: 1)) s")
        }
        let segments = try store.segments()
        let blocks = try segments.reduce(0) { $0 + (try $1.scan(verify: false)).blocks.count }
        print("store: \(series) series × \(days) days of 1m windows with \(values)-value sketches: \(series * days * 1_440) windows, "
              + "\(segments.count) segments, \(blocks) blocks, \(try store.totalBytes() >> 20) MiB (\(directory))")
        let report = directory + "/bench-report"
        defer { unlink(report) }
        for answer in Answer.allCases {
            print("\n\(answer.title); median of \(runs) runs, each in a fresh process")
            print("  read        records   blocks decoded  peak held   median ms   peak RSS growth MiB   runs (ms)")
            for read in Read.allCases {
                var measurements: [Measurement] = []
                for _ in 0..<runs {
                    _ = try ChildProcess.runSelf(["bench", "--query-child", "\(read.rawValue):\(answer.rawValue)", "--query-store", directory, "--query-report", report])
                    measurements.append(try Self.measurement(report))
                }
                let last = measurements[measurements.count - 1]
                let ms = measurements.map { $0.seconds * 1_000 }
                let growth = median(measurements.map { Double($0.growthKB) / 1_024 })
                print("  " + [pad(read.rawValue, 10), pad("\(last.records)", 9, right: true), pad("\(last.decodedBlocks)", 16, right: true),
                              pad(read == .loadAll ? "all" : "\(last.peakBlocks)", 11, right: true), pad(Self.format(median(ms), digits: 1), 11, right: true),
                              pad(Self.format(growth, digits: 1), 21, right: true), "  " + ms.map { Self.format($0, digits: 0) }.joined(separator: ", ")].joined())
            }
        }
    }

    /// Windows closing a minute at a time, through the segment writer: a block holds an hour
    /// of every series and each is sealed on its own, the shape a server leaves with its
    /// default `store.segment_age` of an hour (its small blocks compacted into one behind ingest).
    private func write(_ store: DataDirectory) async throws {
        var configuration = SegmentWriter<ContinuousClock>.Configuration()
        configuration.flushRecords = series * 60
        configuration.segmentBytes = 1
        let writer = SegmentWriter(replayConfiguration: configuration, directory: store) { _ in }
        let input = BoundedChannel<StoreBatch>(capacity: 4)
        async let written: Void = writer.run(input: input)
        var random = SeededRandom(seed: seed)
        let keys = (0..<series).map { SeriesKey(tenantID: Self.tenant($0), name: Self.name($0)) }
        for minute in 0..<(days * 1_440) {
            let span = WindowSpan(length: .minutes(1), start: Timestamp(microseconds: Self.start + Int64(minute) * 60_000_000))
            var outputs: [OutputRecord] = []
            outputs.reserveCapacity(series)
            for (s, key) in keys.enumerated() {
                var sketch = DDSketch()
                var sum = ExactSum()
                let typical = Double(10 + s % 200)
                for _ in 0..<values {
                    let v = (typical * (0.5 + random.unit()) * 100).rounded() / 100
                    sketch.add(v)
                    sum.add(v)
                }
                outputs.append(.window(WindowSummary(span: span, series: key, sketch: sketch, sum: sum)))
            }
            try await input.send(StoreBatch(outputs: outputs))
        }
        input.finish()
        try await written
    }

    /// In the child: runs one read and writes its figures to `report`.
    static func runChild(_ spec: String, store: String, report: String) throws {
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count == 2, let read = Read(rawValue: parts[0]), let answer = Answer(rawValue: parts[1]) else {
            throw ChildProcess.Failure(description: "--query-child \(spec): expected READ:ANSWER")
        }
        let directory = try DataDirectory(path: store, create: false)
        let query = answer.query
        let before = ProcessMemory.residentKB()
        let started = ContinuousClock.now
        var statistics = StoreReader.ReadStatistics()
        var records = 0
        var checksum: Int64 = 0
        switch read {
        case .loadAll:
            let (answer, blocks) = try loadAllAndSort(directory, query)
            records = answer.count
            checksum = answer.last?.timestamp.microseconds ?? 0
            statistics.decodedBlocks = blocks
        case .gathered:
            // What `records(_:)` does, with its statistics.
            var answer: [StoredRecord] = []
            try StoreReader(directory: directory).forEach(query, statistics: &statistics) { answer.append($0) }
            records = answer.count
            checksum = answer.last?.timestamp.microseconds ?? 0
        case .streamed:
            try StoreReader(directory: directory).forEach(query, statistics: &statistics) { r in
                records += 1
                checksum &+= r.timestamp.microseconds
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let line = "\(seconds) \(ProcessMemory.peakResidentKB() - before) \(records) \(statistics.decodedBlocks) \(statistics.peakDecodedBlocks) \(checksum)\n"
        guard let file = fopen(report, "w") else { throw ChildProcess.Failure(description: "cannot write \(report)") }
        fputs(line, file)
        fclose(file)
    }

    /// How `StoreReader.records` read before it streamed: every wanted block of every segment
    /// decoded into one array, then a stable sort of it all by time.
    static func loadAllAndSort(_ directory: DataDirectory, _ query: StoreQuery) throws -> (records: [StoredRecord], blocks: Int) {
        var out: [StoredRecord] = []
        var blocks = 0
        for segment in try directory.segments() {
            let wanted = try segment.scan(verify: false).blocks.filter { query.mayMatch($0) }
            blocks += wanted.count
            for r in try segment.records(blocks: wanted) where query.matches(r) { out.append(r) }
        }
        let sorted = out.enumerated().sorted { l, r in
            l.element.timestamp != r.element.timestamp ? l.element.timestamp < r.element.timestamp : l.offset < r.offset
        }.map(\.element)
        return (sorted, blocks)
    }

    private static func measurement(_ report: String) throws -> Measurement {
        guard let file = fopen(report, "r") else { throw ChildProcess.Failure(description: "the child wrote no report") }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let n = fread(&bytes, 1, bytes.count, file)
        let fields = String(decoding: bytes[0..<n], as: UTF8.self).split { $0 == " " || $0 == "\n" }
        guard fields.count >= 5, let seconds = Double(fields[0]), let growth = Int(fields[1]), let records = Int(fields[2]),
              let decoded = Int(fields[3]), let peak = Int(fields[4]) else {
            throw ChildProcess.Failure(description: "the child's report does not parse")
        }
        return Measurement(seconds: seconds, growthKB: growth, records: records, decodedBlocks: decoded, peakBlocks: peak)
    }

    static func format(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return digits == 0 ? "\(Int(rounded))" : "\(rounded)"
    }
}

private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return right ? fill + text : text + fill
}

/// A scratch directory for a benchmark's store.
enum TemporaryDirectory {
    static func make() -> String {
        var template = Array("/tmp/sluice-bench-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    /// Removes `path` and everything under it.
    static func remove(_ path: String) {
        guard let dir = opendir(path) else {
            unlink(path)
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names { remove(path + "/" + name) }
        rmdir(path)
    }
}
