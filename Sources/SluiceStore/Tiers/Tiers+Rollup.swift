#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceConfig
import SluiceModel

extension Tiers {
    /// What one roll-up run wrote to one tier.
    public struct Rollup: Sendable, Hashable {
        public var step: WindowDuration
        /// The time now rolled up: `[from, to)`.
        public var from: Timestamp
        public var to: Timestamp
        public var windows: Int
        public var bytes: Int
    }

    /// What one maintenance run did.
    public struct Maintenance: Sendable {
        public var rollups: [Rollup]
        /// Windows pruned from the tiers.
        public var pruned: Int
        /// Prunes refused by the mass-delete guard, each saying which tier and why.
        public var refusals: [String] = []
    }

    /// Rolls up, then prunes. `now` is the wall clock, or `nil` for the data's own time (its
    /// latest window's end), as `replay` keeps time.
    public func maintain(now: Timestamp?, level: Int32, policy: Configuration.Retention) throws(StoreError) -> Maintenance {
        var time = now
        if time == nil, let latest = try Self.latestWindowStart(base) { time = latest + (baseLengths.first ?? .minutes(1)) }
        guard let time else { return Maintenance(rollups: [], pruned: 0) }
        let rollups = try rollUp(now: time, level: level)
        let reports = try prune(now: time, policy: policy)
        var done = Maintenance(rollups: rollups, pruned: reports.reduce(0) { $0 + $1.removedRecords })
        for (tier, report) in zip(tiers, reports) {
            if let refusal = report.refusal { done.refusals.append("the \(tier.step.humanDescription) tier: \(refusal)") }
        }
        return done
    }

    /// Records per block of a tier segment.
    static let recordsPerBlock = 8_192

    /// Rolls every complete step of every tier up, finest tier first (a coarser tier reads
    /// it). A step is complete once the source holds a window that ends after it: windows are
    /// stored in order of their end, so none of the step's can still come. Steps older than
    /// the tier's max age at `now` are not rolled up (they would be pruned at once).
    public func rollUp(now: Timestamp, level: Int32) throws(StoreError) -> [Rollup] {
        var done: [Rollup] = []
        for index in tiers.indices {
            if let rollup = try rollUp(index, now: now, level: level) { done.append(rollup) }
        }
        return done
    }

    func rollUp(_ index: Int, now: Timestamp, level: Int32) throws(StoreError) -> Rollup? {
        let tier = tiers[index]
        let source = source(of: index)
        let reader = StoreReader(directory: source.directory)
        guard let latestStart = try Self.latestWindowStart(source.directory) else { return nil }
        let step = tier.step.microseconds
        // The source's latest window ends at least this late (its shortest length). A tier
        // holds only complete steps, so every step up to there is complete; the base stores
        // the windows that end together one block at a time, so only the steps that end
        // strictly before it are.
        let shortest = source.tier == nil ? baseLengths.first ?? source.length : source.length
        let margin: Int64 = source.tier == nil ? 1 : 0
        let complete = Timestamp(microseconds: Self.floor((latestStart + shortest).microseconds - margin, step))
        let oldest = Timestamp(microseconds: Self.floor(now.microseconds - tier.maxAge.microseconds, step))
        var start: Timestamp
        if let progress = try progress(of: index) {
            start = progress
        } else {
            guard let earliest = try Self.earliestWindowStart(source.directory) else { return nil }
            start = Timestamp(microseconds: Self.floor(earliest.microseconds, step))
        }
        start = max(start, oldest)
        let end = complete
        guard start < end else { return nil }

        // One pass in time order: the windows of each segment period fold into one running
        // union per series per step, which is appended when the stream passes the period.
        var written = Rollup(step: tier.step, from: start, to: end, windows: 0, bytes: 0)
        var accumulator = WindowRollup.Accumulator(step: tier.step)
        var periodEnd = Self.segmentEnd(step: tier.step, start: start)
        func flush() throws(StoreError) {
            guard !accumulator.isEmpty else { return }
            let rolled = accumulator.records().map(StoredRecord.output)
            let id = Self.segmentID(step: tier.step, start: periodEnd - tier.step)
            written.bytes += try Self.append(rolled, to: SegmentFile(id: id, sealed: true, directory: tier.directory.segmentsPath), level: level)
            written.windows += rolled.count
            accumulator = WindowRollup.Accumulator(step: tier.step)
        }
        let query = StoreQuery(kinds: Self.windowKinds, from: start, to: end, windowLength: source.length)
        try reader.forEach(query) { (record: StoredRecord) throws(StoreError) in
            guard case .output(let window) = record else { return }
            if record.timestamp >= periodEnd {
                try flush()
                periodEnd = Self.segmentEnd(step: tier.step, start: record.timestamp)
            }
            accumulator.add(window)
        }
        try flush()
        return written
    }

    static let windowKinds: Set<StoredRecord.Kind> = [.window, .cacheWindow, .visitsWindow]

    /// Writes `segment` again with `records` after its frames, atomically; returns the bytes
    /// added.
    static func append(_ records: [StoredRecord], to segment: SegmentFile, level: Int32) throws(StoreError) -> Int {
        var chunks = [SegmentFile.header()]
        if FileIO.size(path: segment.path) != nil {
            let scan = try segment.scan(verify: false)
            if let damage = scan.damage {
                throw .corrupt("\(segment.path) is damaged at offset \(damage.offset) (\(damage.reason)); run `sluice verify` on the tier's directory")
            }
            guard scan.version == SegmentFile.version else { throw .usage("\(segment.path) is segment format \(scan.version); tiers are written in \(SegmentFile.version)") }
            let fd = try FileIO.open(segment.path, O_RDONLY)
            defer { close(fd) }
            chunks.append(try FileIO.pread(fd, segment.path, offset: SegmentFile.headerBytes, count: scan.validLength - SegmentFile.headerBytes))
        }
        var added = 0
        for start in stride(from: 0, to: records.count, by: recordsPerBlock) {
            let frame = try BlockFrame.build(Array(records[start..<min(records.count, start + recordsPerBlock)]), level: level).bytes
            chunks.append(frame)
            added += frame.count
        }
        try FileIO.writeAtomically(segment.path, chunks)
        return added
    }

    /// Prunes each tier by its own max age (tenant overrides apply to the base only), with
    /// the base policy's mass-delete guard.
    public func prune(now: Timestamp, policy: Configuration.Retention, dryRun: Bool = false, confirmed: Bool = false) throws(StoreError) -> [RetentionPruner.Report] {
        var reports: [RetentionPruner.Report] = []
        for tier in tiers {
            var own = Configuration.Retention()
            own.maxAge = ["window": tier.maxAge]
            // No size cap of their own: a tier is a small fraction of the base.
            own.maxBytes = 1 << 62
            own.allowMassDelete = policy.allowMassDelete
            let pruner = RetentionPruner(directory: tier.directory, policy: RetentionPolicy(own), segmentBytes: 64 << 20)
            reports.append(try pruner.prune(now: now, dryRun: dryRun, confirmed: confirmed))
        }
        return reports
    }

    /// The largest multiple of `step` at or below `value`.
    static func floor(_ value: Int64, _ step: Int64) -> Int64 {
        let r = value % step
        return r < 0 ? value - r - step : value - r
    }

    /// The start of the latest window in `directory`, from block summaries alone.
    static func latestWindowStart(_ directory: DataDirectory) throws(StoreError) -> Timestamp? {
        try windowTimes(directory).map { Timestamp(microseconds: $0.latest) }
    }

    static func earliestWindowStart(_ directory: DataDirectory) throws(StoreError) -> Timestamp? {
        try windowTimes(directory).map { Timestamp(microseconds: $0.earliest) }
    }

    private static func windowTimes(_ directory: DataDirectory) throws(StoreError) -> (earliest: Int64, latest: Int64)? {
        var times: (earliest: Int64, latest: Int64)?
        for segment in try directory.segments() {
            let scan: SegmentFile.Scan
            do { scan = try segment.scan(verify: false) } catch where !segment.sealed { continue }
            for block in scan.blocks {
                // A window's timestamp is its start.
                for entry in block.summary.entries where windowKinds.contains(entry.kind) {
                    times = (min(times?.earliest ?? entry.minTime, entry.minTime), max(times?.latest ?? entry.maxTime, entry.maxTime))
                }
            }
        }
        return times
    }
}

extension OutputRecord {
    /// A window record's length; `nil` for other records.
    public var windowLength: WindowDuration? {
        switch self {
        case .window(let w): w.span.length
        case .cacheWindow(let c): c.span.length
        case .visitsWindow(let v): v.span.length
        default: nil
        }
    }
}
