import ArgumentParser
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// `--data-dir` for commands that read a store.
struct DataDirectoryOption: ParsableArguments {
    @Option(help: ArgumentHelp("The data directory (written by run/replay/serve --data-dir).", valueName: "DIR"))
    var dataDir: String

    func open() throws -> DataDirectory {
        do { return try DataDirectory(path: dataDir, create: false) } catch { throw ValidationError("\(error)") }
    }
}

/// Times on the command line: RFC 3339 (with an offset) or Unix seconds.
func parseTime(_ text: String, option: String) throws -> Timestamp {
    switch Timestamp.parseUserInput(text, name: option) {
    case .success(let t): return t
    case .failure(let problem): throw ValidationError(problem.description)
    }
}

/// `sluice query`.
struct Query: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print stored records as NDJSON, in timestamp order.",
        usage: "sluice query --data-dir <DIR> [<options>]",
        discussion: """
            Raw records come back as they were given (timestamps normalised to RFC 3339 UTC); \
            window aggregates and anomalies as the pipeline emitted them. Filters combine; the \
            time range is [--from, --to). With --aggregate D, window records are recomputed from \
            the stored raw samples (metric, performance, cache, visit) exactly as the live \
            aggregator computes them, over records in event-time order.

            Examples:
              sluice query --data-dir ./sluice-data --type metric --tenant shop \\
                --from 2026-11-24T10:00:00Z
              sluice query --data-dir ./sluice-data --metric response_time --aggregate 5m
            """
    )

    @OptionGroup var store: DataDirectoryOption
    @Option(name: .customLong("type"), help: ArgumentHelp(
        "Only this record type: metric, cache, performance, token_usage, visit, window, cache_window, visits_window, anomaly. Repeatable.",
        valueName: "T"))
    var types: [String] = []
    @Option(help: ArgumentHelp("Only this tenant.", valueName: "ID")) var tenant: String?
    @Option(help: ArgumentHelp("Only this series name (metric_name, cache name or model).", valueName: "NAME")) var metric: String?
    @Option(help: ArgumentHelp("From this time on (RFC 3339 or Unix seconds).", valueName: "TIME")) var from: String?
    @Option(help: ArgumentHelp("Before this time.", valueName: "TIME")) var to: String?
    @Option(help: ArgumentHelp("Recompute windows of this length from raw samples.", valueName: "D")) var aggregate: String?

    func validate() throws {
        for t in types where StoredRecord.Kind(typeName: t) == nil {
            throw ValidationError("--type \(t): expected one of \(StoredRecord.Kind.allCases.map(\.typeName).joined(separator: ", "))")
        }
        if let aggregate, case .failure(let problem) = WindowDuration.parseUserInput(aggregate, name: "--aggregate") {
            throw ValidationError(problem.description)
        }
        let (from, to) = (try from.map { try parseTime($0, option: "--from") }, try to.map { try parseTime($0, option: "--to") })
        if let from, let to, from >= to { throw ValidationError("--from \(from) is not before --to \(to)") }
    }

    func run() async throws {
        let directory = try store.open()
        var query = StoreQuery(tenantID: tenant, metric: metric, from: try from.map { try parseTime($0, option: "--from") },
                               to: try to.map { try parseTime($0, option: "--to") })
        var kinds = Set(types.compactMap(StoredRecord.Kind.init(typeName:)))
        if let aggregate, let length = WindowDuration(parsing: aggregate) {
            let raw: Set<StoredRecord.Kind> = [.metric, .performance, .cache, .visit]
            kinds = kinds.isEmpty ? raw : kinds.intersection(raw)
            query.kinds = kinds
            var machine = WindowAggregator.StateMachine(configuration: .init(windows: [length], lateness: .zero))
            var events: [StageEvent] = []
            try StoreReader(directory: directory).forEach(query) { stored in
                if case .record(let r) = stored { machine.record(r, into: &events) }
            }
            machine.inputFinished(into: &events)
            var json = JSONWriter()
            for case .output(let o) in events {
                if let metric, case .window(let w) = o, w.series.name != metric { continue }
                o.write(to: &json)
            }
            StandardOutput.write(String(decoding: json.bytes, as: UTF8.self))
            return
        }
        query.kinds = kinds.isEmpty ? nil : kinds
        // Printed as read: what this holds is a block or two and a megabyte of output.
        var json = JSONWriter(capacity: 1 << 20)
        try StoreReader(directory: directory).forEachCombined(query) { r in
            switch r {
            case .record(let record): record.write(to: &json)
            case .output(let output): output.write(to: &json)
            }
            if json.bytes.count > 1 << 20 {
                StandardOutput.write(String(decoding: json.bytes, as: UTF8.self))
                json = JSONWriter(capacity: 1 << 20)
            }
        }
        StandardOutput.write(String(decoding: json.bytes, as: UTF8.self))
    }
}

/// `sluice verify`.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every block of a data directory; with --repair, make it whole.",
        discussion: """
            Reads every block, checks its checksum and that it decompresses and decodes. Exit \
            status 0 when everything is whole, 1 with a report when something is damaged. With \
            --repair, a torn tail of a segment that was being written (after a crash) is cut back \
            to its last whole block, and a damaged sealed segment is moved to quarantine/ (never \
            deleted); the exit status is then 0 once the store is whole. The downsampling tiers \
            (tiers/<step>/) are checked the same way.
            """
    )

    @OptionGroup var store: DataDirectoryOption
    @Flag(help: "Cut torn tails and move damaged sealed segments to quarantine/.") var repair = false

    func run() async throws {
        let directory = try store.open()
        let lock = try? directory.lock()
        if repair && lock == nil { throw ValidationError("\(directory.path) is in use by another Sluice process; stop it before --repair") }
        var damaged = 0, blocks = 0, records = 0
        // The segments, then each downsampling tier's (written whole and renamed into place,
        // so never torn; a damaged one is quarantined in its tier and rolled up again when
        // it was the newest).
        for (prefix, place) in [("", directory)] + Tiers.directories(in: directory).map({ ($0.name + "/", $0.directory) }) {
            for segment in try place.segments() {
                if !segment.sealed && lock == nil {
                    print("\(prefix)\(segment.name): being written by another process; not checked")
                    continue
                }
                let scan = try segment.scan(verify: true)
                blocks += scan.blocks.count
                records += scan.blocks.reduce(0) { $0 + $1.recordCount }
                guard let damage = scan.damage else { continue }
                damaged += 1
                let lost = scan.fileLength - scan.validLength
                print("\(prefix)\(segment.name): damaged at offset \(damage.offset): \(damage.reason); \(scan.blocks.count) whole blocks before it, \(lost) bytes after")
                guard repair else { continue }
                if segment.sealed {
                    let moved = try place.quarantine(segment)
                    print("\(prefix)\(segment.name): moved to \(moved)")
                }
            }
        }
        if repair {
            for cut in try directory.recoverOpenSegments() { print("repaired \(cut)") }
        }
        print("\(blocks) whole blocks, \(records) records; \(damaged) damaged segment\(damaged == 1 ? "" : "s")\(repair && damaged > 0 ? ", repaired" : "")")
        if damaged > 0 && !repair { throw ExitCode(1) }
    }
}

/// `sluice prune`.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the retention policy now and print what it removed.",
        usage: "sluice prune --data-dir <DIR> [<options>]",
        discussion: """
            Records older than their type's max_age (retention.max_age, per-tenant overrides in \
            retention.tenants) are removed: whole segments deleted, mixed ones rewritten \
            atomically. Then, above retention.max_bytes, the oldest data goes first and token \
            usage last. With --dry-run nothing changes and the report says what would go.

            A prune that would remove more than half the stored bytes at once is refused (exit \
            status 1, nothing removed) unless --confirm is given or the configuration sets \
            retention.allow_mass_delete: true.

            The downsampling tiers (retention.tiers) are pruned too, each by its own max age.
            """
    )

    @OptionGroup var store: DataDirectoryOption
    @Option(help: ArgumentHelp("A YAML configuration file with the retention: policy.", valueName: "FILE")) var config: String?
    @Flag(help: "Report what would be removed; remove nothing.") var dryRun = false
    @Flag(help: "Go ahead even if the prune removes more than half the stored bytes.") var confirm = false
    @Option(help: ArgumentHelp("Prune as of this time instead of now (RFC 3339 or Unix seconds).", valueName: "TIME")) var now: String?

    func run() async throws {
        let at: Timestamp
        switch now.map({ Timestamp.parseUserInput($0, name: "--now") }) {
        case nil: at = Timestamp.now()
        case .success(let t)?: at = t
        case .failure(let error)?: throw ValidationError(error.description)
        }
        let configuration = try loadConfiguration(config)
        let directory = try store.open()
        let lock = try directory.lock()
        defer { withExtendedLifetime(lock) {} }
        for cut in try directory.recoverOpenSegments() { StandardError.write("recovered \(cut)\n") }
        let pruner = RetentionPruner(directory: directory, policy: RetentionPolicy(configuration.retention),
                                     segmentBytes: SegmentWriter<ContinuousClock>.Configuration(configuration).segmentBytes)
        let report = try pruner.prune(now: at, dryRun: dryRun, confirmed: confirm)
        if report.refusal != nil && !dryRun {
            StandardError.write("sluice: " + PruneReportText.render(report, confirm: Self.confirmHint) + "\n")
            throw ExitCode(1)
        }
        // The tiers first, and only those with something to say: the last line is the base's total.
        let tiers = try Tiers(base: directory, windows: configuration.pipeline.windows, configuration: configuration.retention.tiers)
        for (tier, tierReport) in zip(tiers.tiers, try tiers.prune(now: at, policy: configuration.retention, dryRun: dryRun, confirmed: confirm))
        where tierReport.removedRecords > 0 || tierReport.refusal != nil {
            print("the \(tier.step.humanDescription) tier (max age \(tier.maxAge.humanDescription)): " + PruneReportText.render(tierReport, confirm: Self.confirmHint))
        }
        print(PruneReportText.render(report, confirm: Self.confirmHint))
    }

    static let confirmHint = "to go ahead, run again with --confirm (or set retention.allow_mass_delete: true); --dry-run lists what would go"
}

/// `sluice stats`.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a data directory holds, per record type and tenant.",
        discussion: "Records, bytes on disk (each block's bytes shared out by record count), bytes per record and time range."
    )

    @OptionGroup var store: DataDirectoryOption

    func run() async throws {
        let stats = try StoreStats(directory: try store.open())
        var lines = [["TYPE", "TENANT", "RECORDS", "BYTES", "BYTES/REC", "FROM", "TO"]]
        var total = 0
        for (key, row) in stats.rows.sorted(by: { $0.key < $1.key }) {
            total += row.records
            lines.append([key.type, key.tenantID ?? "-", "\(row.records)", "\(Int(row.bytes.rounded()))",
                          "\((row.bytes / Double(max(1, row.records)) * 100).rounded() / 100)",
                          "\(Timestamp(microseconds: row.minTime))", "\(Timestamp(microseconds: row.maxTime))"])
        }
        let widths = (0..<7).map { c in lines.map { $0[c].count }.max() ?? 0 }
        for line in lines {
            print(line.enumerated().map { i, cell in i < 2 ? cell.padding(widths[i]) : cell.leftPadding(widths[i]) }.joined(separator: "  "))
        }
        print("\(stats.segments) segments, \(stats.blocks) blocks, \(total) records, \(stats.fileBytes) bytes on disk"
              + (total > 0 ? " (\((Double(stats.fileBytes) / Double(total) * 100).rounded() / 100) bytes per record)" : ""))
    }
}

enum PruneReportText {
    /// The report, one line per type, tenant and reason; `how` says how to confirm a mass delete.
    static func render(_ report: RetentionPruner.Report,
                       confirm how: String = "to go ahead, set retention.allow_mass_delete: true, or stop sluice and run sluice prune --confirm") -> String {
        if let refusal = report.refusal, !report.dryRun { return "prune refused: \(refusal); nothing was removed; \(how)" }
        var lines: [String] = []
        let verb = report.dryRun ? "would remove" : "removed"
        for (key, value) in report.removed.sorted(by: { $0.key < $1.key }) {
            lines.append("\(verb) \(value.records) \(key.type) records of \(key.tenantID.map { "tenant \($0)" } ?? "no tenant") (\(value.bytes) bytes): \(key.reason)")
        }
        if !report.deletedSegments.isEmpty { lines.append("\(report.dryRun ? "would delete" : "deleted") segments: \(report.deletedSegments.joined(separator: ", "))") }
        if !report.rewrittenSegments.isEmpty { lines.append("\(report.dryRun ? "would rewrite" : "rewrote") segments: \(report.rewrittenSegments.joined(separator: ", "))") }
        lines.append("\(report.removedRecords) records \(report.dryRun ? "would be removed" : "removed"); \(report.bytesBefore) bytes before, \(report.bytesAfter) after")
        if let refusal = report.refusal { lines.append("a real prune needs confirmation: \(refusal); \(how)") }
        return lines.joined(separator: "\n")
    }
}

func loadConfiguration(_ path: String?) throws -> Configuration {
    guard let path else { return Configuration() }
    do { return try Configuration.load(path: path) } catch { throw ValidationError("\(path): \(error)") }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadding(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
