import SluiceModel

/// Applies a retention policy to the sealed segments of a data directory.
///
/// Expired records go first: a segment whose records have all expired is deleted, one that
/// holds both is rewritten without them (atomically). Then, if the store is above its size cap,
/// the oldest segments lose their raw and aggregate records, and only then their token usage,
/// which is billing data. The segment being written is never touched.
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

    /// What one prune removed, per record type and tenant.
    public struct Report: Sendable {
        public struct Key: Sendable, Hashable, Comparable {
            public var type: String
            public var tenantID: String?
            public var reason: String
            public static func < (l: Key, r: Key) -> Bool {
                (l.reason, l.type, l.tenantID ?? "") < (r.reason, r.type, r.tenantID ?? "")
            }
        }
        public var removed: [Key: (records: Int, bytes: Int)] = [:]
        public var deletedSegments: [String] = []
        public var rewrittenSegments: [String] = []
        public var bytesBefore = 0
        public var bytesAfter = 0
        public var dryRun = false

        public var removedRecords: Int { removed.values.reduce(0) { $0 + $1.records } }

        mutating func add(_ kind: StoredRecord.Kind, _ tenant: String?, reason: String, records: Int, bytes: Int) {
            let key = Key(type: kind.retentionType == "window" ? kind.typeName : kind.typeName, tenantID: tenant, reason: reason)
            let old = removed[key] ?? (0, 0)
            removed[key] = (old.records + records, old.bytes + bytes)
        }
    }

    /// Prunes as of `now`. With `dryRun`, computes the same report and changes nothing.
    public func prune(now: Timestamp, dryRun: Bool = false) throws(StoreError) -> Report {
        var report = Report()
        report.dryRun = dryRun
        var segments = try directory.segments()
        let openBytes = segments.filter { !$0.sealed }.reduce(0) { $0 + (FileIO.size(path: $1.path) ?? 0) }
        var sizes: [UInt64: Int] = [:]
        for s in segments where s.sealed { sizes[s.id] = FileIO.size(path: s.path) ?? 0 }
        report.bytesBefore = sizes.values.reduce(openBytes, +)
        segments = segments.filter(\.sealed)

        // 1. Age.
        for segment in segments {
            guard let scan = try? segment.scan(verify: false), scan.damage == nil else { continue }
            let anyExpired = scan.blocks.contains { b in
                b.summary.entries.contains { policy.isExpired($0.kind, tenant: $0.tenantID, time: $0.minTime, now: now) }
            }
            guard anyExpired else { continue }
            let newSize = try rewrite(segment, scan, reason: "max_age", dryRun: dryRun, report: &report) { r in
                !policy.isExpired(r.kind, tenant: r.tenantID, time: r.timestamp.microseconds, now: now)
            }
            sizes[segment.id] = newSize
        }

        // 2. Size: past the cap less one segment, prune the oldest down to the cap less two, so
        // the writer's next segment still fits under it.
        let trigger = Int(policy.maxBytes) - segmentBytes
        let target = Int(policy.maxBytes) - 2 * segmentBytes
        var total = sizes.values.reduce(openBytes, +)
        if total > trigger {
            // In a dry run nothing was rewritten by the age pass: leave out what it removed.
            let aged: (StoredRecord) -> Bool = dryRun ? { r in policy.isExpired(r.kind, tenant: r.tenantID, time: r.timestamp.microseconds, now: now) } : { _ in false }
            pass: for keepTokens in [true, false] {
                for segment in segments {
                    guard total > target else { break pass }
                    guard let size = sizes[segment.id], size > 0 else { continue }
                    guard let scan = try? segment.scan(verify: false), scan.damage == nil else { continue }
                    let newSize = try rewrite(segment, scan, reason: "max_bytes", dryRun: dryRun, report: &report, alreadyRemoved: aged) { r in
                        keepTokens && r.kind == .tokenUsage
                    }
                    total += newSize - size
                    sizes[segment.id] = newSize
                }
            }
        }
        report.bytesAfter = sizes.values.reduce(openBytes, +)
        return report
    }

    /// Keeps the records `keep` accepts; returns the segment's new size (0 when deleted).
    private func rewrite(
        _ segment: SegmentFile, _ scan: SegmentFile.Scan, reason: String, dryRun: Bool, report: inout Report,
        alreadyRemoved: (StoredRecord) -> Bool = { _ in false }, keep: (StoredRecord) -> Bool
    ) throws(StoreError) -> Int {
        var frames: [[UInt8]] = []
        var changed = false
        for block in scan.blocks {
            let stored = try segment.records(blocks: [block])
            let records = stored.filter { !alreadyRemoved($0) }
            let kept = records.filter(keep)
            let perRecord = Double(block.length) / Double(max(1, records.count))
            var removed: [BlockCodec.GroupKey: Int] = [:]
            for r in records where !keep(r) {
                var key = BlockCodec.GroupKey(r)
                key = BlockCodec.GroupKey(kind: key.kind, tenant: key.tenant)
                removed[key, default: 0] += 1
            }
            for (key, n) in removed {
                report.add(key.kind, key.tenant, reason: reason, records: n, bytes: Int((perRecord * Double(n)).rounded()))
            }
            if kept.count == stored.count {
                frames.append(try FileIO.readFrame(segment, block))
            } else {
                changed = true
                if !kept.isEmpty { frames.append(try BlockFrame.build(kept, level: compressionLevel).bytes) }
            }
        }
        guard changed else { return scan.fileLength }
        if frames.isEmpty { report.deletedSegments.append(segment.name) } else { report.rewrittenSegments.append(segment.name) }
        if !dryRun { try directory.replace(segment, frames: frames) }
        return frames.isEmpty ? 0 : frames.reduce(SegmentFile.headerBytes) { $0 + $1.count }
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
