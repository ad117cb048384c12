import SluiceModel
import Synchronization

/// Applies a retention policy to the sealed segments of a data directory.
///
/// Expired records go first: a segment whose records have all expired is deleted, one that
/// holds both is rewritten without them (atomically). Then, if the store is above its size cap,
/// the oldest segments lose their raw and aggregate records, and only then their token usage,
/// which is billing data. The segment being written is never touched.
///
/// A prune is planned once (`plan(now:)`); a dry run reports the plan, a real run carries it
/// out, so both give the same figures. A plan that removes more than half the stored bytes
/// runs only when confirmed, or when the policy allows mass deletes.
public struct RetentionPruner: Sendable {
    public let directory: DataDirectory
    public let policy: RetentionPolicy
    /// Block size of rewritten blocks is unchanged; this is only the zstd level.
    let compressionLevel: Int32
    /// The writer's segment size: the size cap is kept with this much headroom.
    let segmentBytes: Int

    public init(directory: DataDirectory, policy: RetentionPolicy, segmentBytes: Int, compressionLevel: Int32 = 3) {
        self.directory = directory
        self.policy = policy
        self.segmentBytes = segmentBytes
        self.compressionLevel = compressionLevel
    }

    /// Prunes as of `now`. With `dryRun`, reports what a real prune would remove and changes
    /// nothing. Unless `confirmed` (or the policy allows it), a prune that would remove more
    /// than half the stored bytes removes nothing and says so in `Report.refusal`.
    public func prune(now: Timestamp, dryRun: Bool = false, confirmed: Bool = false) throws(StoreError) -> Report {
        guard !dryRun else { return try prune(self.plan(now: now), now: now, dryRun: true, confirmed: confirmed) }
        // A plan holds only until another rewrite (a prune, a compaction) replaces a segment it
        // names: in one process (the server's periodic run, its API, the writer's compaction),
        // they take turns.
        return try DataDirectory.rewrites.withLock { _ throws(StoreError) -> Report in
            try prune(self.plan(now: now), now: now, dryRun: false, confirmed: confirmed)
        }
    }

    private func prune(_ plan: Plan, now: Timestamp, dryRun: Bool, confirmed: Bool) throws(StoreError) -> Report {
        var report = plan.report
        report.dryRun = dryRun
        if plan.isMassDelete && !confirmed && !policy.allowMassDelete {
            let refusal = MassDeleteRefusal(records: report.removedRecords, bytes: report.bytesBefore - report.bytesAfter, bytesBefore: report.bytesBefore)
            if !dryRun {
                report = Report()
                report.bytesBefore = plan.report.bytesBefore
                report.bytesAfter = plan.report.bytesBefore
            }
            report.refusal = refusal
            return report
        }
        if !dryRun { try carryOut(plan, now: now) }
        return report
    }

    /// Rewrites (or deletes) each segment the plan names, exactly as it was planned.
    func carryOut(_ plan: Plan, now: Timestamp) throws(StoreError) {
        for step in plan.steps {
            let outcome = try cutting(step.segment, step.scan, step.cut, now: now)
            var frames: [[UInt8]] = []
            for block in outcome.blocks {
                switch block {
                case .unchanged(let b): frames.append(try FileIO.readFrame(step.segment, b))
                case .rebuilt(let bytes): frames.append(bytes)
                }
            }
            try directory.replace(step.segment, frames: frames, asWritten: step.scan.asWritten)
        }
    }

    func isExpired(_ r: StoredRecord, now: Timestamp) -> Bool {
        policy.isExpired(r.kind, tenant: r.tenantID, time: r.timestamp.microseconds, now: now)
    }
}

extension BlockCodec.GroupKey {
    /// A key by kind and tenant only (for reports).
    init(kind: StoredRecord.Kind, tenant: String?) {
        self.kind = kind
        self.tenant = tenant
        name = nil
        labels = .empty
        length = 0
    }
}

extension FileIO {
    static func readFrame(_ segment: SegmentFile, _ block: SegmentFile.Block) throws(StoreError) -> [UInt8] {
        let fd = try open(segment.path, O_RDONLY)
        defer { close(fd) }
        return try pread(fd, segment.path, offset: block.offset, count: block.length)
    }
}

#if canImport(Glibc)
import Glibc
#endif
