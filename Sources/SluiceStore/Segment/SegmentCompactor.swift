#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SluiceModel

/// Rewrites a segment's blocks into as few blocks as fit `maximumRecords` each, with each
/// series' records together: the writer flushes small blocks for durability (every second),
/// and long runs of one series compress far better.
///
/// It runs behind ingest (`Behind`): the writer seals a segment as written, with the header's
/// as-written flag set, and compaction replaces it later, as a whole, the way retention does.
struct SegmentCompactor {
    let maximumRecords: Int
    let level: Int32

    /// The compacted frames of `segment`, or `nil` when there is nothing to gain.
    func compactedFrames(_ segment: SegmentFile) throws(StoreError) -> [[UInt8]]? {
        let scan = try segment.scan(verify: false)
        guard scan.damage == nil else { return nil }
        return try compactedFrames(segment, scan)
    }

    /// The compacted frames of `segment`, whose whole blocks `scan` lists; `nil` for one block.
    func compactedFrames(_ segment: SegmentFile, _ scan: SegmentFile.Scan) throws(StoreError) -> [[UInt8]]? {
        guard scan.blocks.count > 1 else { return nil }
        var frames: [[UInt8]] = []
        var builder = BlockBuilder()
        for block in scan.blocks {
            let frame = try FileIO.readFrame(segment, block)
            guard BlockFrame.checksumMatches(frame, block.header) else {
                throw .corrupt("\(segment.path): block at offset \(block.offset) fails its checksum")
            }
            for group in try BlockFrame.groups(frame, block.header, version: block.version) { builder.append(group) }
            builder.receipts += block.summary.receipts
            if builder.count >= maximumRecords {
                frames.append(try BlockFrame.build(builder, level: level).bytes)
                builder.reset()
            }
        }
        if !builder.isEmpty { frames.append(try BlockFrame.build(builder, level: level).bytes) }
        return frames
    }

    /// Replaces the sealed `segment`, if it is still marked as written, with its compacted copy
    /// (`<id>.seg.compact.tmp`, fsynced, renamed over it; recovery removes a leftover copy).
    /// A segment of one block has nothing to merge and is left as it is. Takes turns with
    /// retention's rewrites. Returns whether it replaced the segment; a damaged one is refused.
    func compact(_ segment: SegmentFile, in directory: DataDirectory) throws(StoreError) -> Bool {
        guard segment.isMarkedAsWritten() else { return false }
        return try DataDirectory.rewrites.withLock { _ throws(StoreError) -> Bool in
            // Retention may have removed it, or rewritten it, since.
            guard FileIO.size(path: segment.path) != nil else { return false }
            let scan = try segment.scan(verify: false)
            guard scan.asWritten else { return false }
            if let damage = scan.damage {
                throw .corrupt("\(segment.path) is damaged at offset \(damage.offset) (\(damage.reason)); `sluice verify --repair` moves it aside")
            }
            guard let frames = try compactedFrames(segment, scan) else { return false }
            try directory.replace(segment, frames: frames, temporary: segment.path + ".compact.tmp")
            return true
        }
    }
}

extension SegmentFile {
    /// Whether the header (read alone) carries the as-written flag; `false` when the file is
    /// gone or its header cannot be read.
    func isMarkedAsWritten() -> Bool {
        guard let fd = try? FileIO.openIfPresent(path, O_RDONLY) else { return false }
        defer { close(fd) }
        guard let head = try? FileIO.pread(fd, path, offset: 0, count: Self.headerBytes),
              head.count == Self.headerBytes, Array(head[0..<8]) == Self.magic else { return false }
        return head[9] & Self.asWrittenFlag != 0
    }
}

extension SegmentCompactor {
    /// Compaction behind ingest. The writer seals segments as written and tells this which
    /// ones it may take (`allow(through:)`); one pass at a time, on the blocking pool, compacts
    /// them oldest first, while records keep arriving. Nothing waits for it but the writer's
    /// end (`finish()`), so a run's last segment, sealed at its end and never allowed, stays
    /// as written until the next writer starts.
    ///
    /// A segment that cannot be compacted (no room for the copy, a damaged block) is reported
    /// and stays as written, readable as it is; the next writer tries it again.
    final class Behind: Sendable {
        private struct State {
            /// Segments up to this id may be compacted…
            var allowed: UInt64 = 0
            /// …and those up to this one have been tried.
            var tried: UInt64 = 0
            var running = false
            var pass: Task<Void, Never>?
        }

        private let compactor: SegmentCompactor
        private let directory: DataDirectory
        private let statistics: StoreStatistics
        private let report: @Sendable (String) -> Void
        private let state = Mutex(State())
        private let stopping = Atomic(false)

        init(_ compactor: SegmentCompactor, directory: DataDirectory, statistics: StoreStatistics, report: @escaping @Sendable (String) -> Void) {
            self.compactor = compactor
            self.directory = directory
            self.statistics = statistics
            self.report = report
        }

        /// Sealed segments up to `id` may be compacted: starts a pass unless one is running
        /// (which then carries on to them).
        func allow(through id: UInt64) {
            let start = state.withLock { s -> Bool in
                s.allowed = max(s.allowed, id)
                guard !s.running, s.tried < s.allowed else { return false }
                s.running = true
                return true
            }
            guard start else { return }
            let pass = Task { await self.passes() }
            state.withLock { $0.pass = pass }
        }

        /// Waits until every allowed segment has been tried.
        func finish() async {
            await state.withLock { $0.pass }?.value
        }

        /// Stops before the next segment (the one being compacted is finished) and waits.
        func stop() async {
            stopping.store(true, ordering: .relaxed)
            await finish()
        }

        private func passes() async {
            while let (after, through) = state.withLock({ s -> (UInt64, UInt64)? in
                guard s.tried < s.allowed, !stopping.load(ordering: .relaxed) else {
                    s.running = false
                    return nil
                }
                return (s.tried, s.allowed)
            }) {
                await BlockingWork.run { self.pass(after: after, through: through) }
                state.withLock { $0.tried = through }
            }
        }

        private func pass(after: UInt64, through: UInt64) {
            let segments: [SegmentFile]
            do {
                segments = try directory.segments().filter { $0.sealed && $0.id > after && $0.id <= through }
            } catch {
                report("could not list the segments to compact (\(error)); the next writer tries again")
                return
            }
            for segment in segments where !stopping.load(ordering: .relaxed) {
                do {
                    if try compactor.compact(segment, in: directory) { statistics.recordCompaction() }
                } catch {
                    report("could not compact \(segment.path) (\(error)); it stays as written, and the next writer tries again")
                }
            }
        }
    }
}
