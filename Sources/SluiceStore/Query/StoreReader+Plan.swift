#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel

extension StoreReader {
    /// A segment a read needs. Its descriptor is taken before the scan and, for the first
    /// `heldSegmentLimit` segments and every open one, kept until the read has decoded every
    /// block it wants from the file: the read sees the file it scanned even when the writer
    /// seals it, or compaction or retention replaces it, meanwhile. Past that limit a sealed
    /// segment is closed after its scan and opened again when the merge reaches it, checked to
    /// be the same file, so a read over months of segments holds few descriptors at once.
    final class OpenSegment {
        let file: SegmentFile
        private let identity: FileIO.Identity
        private let files: OpenFiles
        private var fd: Int32?
        /// Blocks the read still has to decode from it.
        var unread = 0

        init(file: SegmentFile, fd: Int32, files: OpenFiles) throws(StoreError) {
            self.file = file
            self.files = files
            self.fd = fd
            files.opened()
            identity = try FileIO.identity(fd, file.path)
        }

        /// The descriptor, opened again if it was closed after the scan; `nil` when the file
        /// has gone since (retention deleted it, or `verify --repair` moved it aside).
        func descriptor() throws(StoreError) -> Int32? {
            if let fd { return fd }
            guard let reopened = try FileIO.openIfPresent(file.path, O_RDONLY) else { return nil }
            files.opened()
            fd = reopened
            guard try FileIO.identity(reopened, file.path) == identity else {
                throw .changed("\(file.path) was replaced while this read went on (by retention or compaction); run the query again")
            }
            return reopened
        }

        func close() {
            guard let fd else { return }
            _ = Glibc.close(fd)
            self.fd = nil
            files.closed()
        }

        deinit { close() }
    }

    /// Counts the segment files a read has open.
    final class OpenFiles {
        private(set) var count = 0
        private(set) var peak = 0

        func opened() {
            count += 1
            peak = max(peak, count)
        }

        func closed() { count -= 1 }
    }

    /// A block a read may need: where it is and what its header says.
    struct PlannedBlock {
        /// Index into the plan's segments.
        var segment: Int
        var offset: Int
        var header: BlockFrame.Header
        var version: UInt8
    }

    /// The segments and, in stored order, the blocks a query may need, with the earliest time
    /// each can hold a match at.
    struct Plan {
        var segments: [OpenSegment?] = []
        var blocks: [(earliest: Int64, block: PlannedBlock)] = []
        var files = OpenFiles()
    }

    /// Opens and scans every segment, and keeps the blocks whose header and summary do not
    /// rule them out. Throws on a damaged sealed segment before any record is read.
    func plan(_ query: StoreQuery, statistics: inout ReadStatistics) throws(StoreError) -> Plan {
        var plan = Plan()
        let listed = try directory.segments()
        let sealedIDs = Set(listed.filter(\.sealed).map(\.id))
        for var segment in listed {
            // Compaction has written the sealed copy and not yet removed the open file.
            if !segment.sealed, sealedIDs.contains(segment.id) { continue }
            var fd = try FileIO.openIfPresent(segment.path, O_RDONLY)
            if fd == nil, !segment.sealed {
                // Sealed since the listing: its records are in the sealed file now.
                segment.sealed = true
                fd = try FileIO.openIfPresent(segment.path, O_RDONLY)
            }
            // Gone: retention deleted it, or `verify --repair` moved it aside.
            guard let fd else { continue }
            let opened = try OpenSegment(file: segment, fd: fd, files: plan.files)
            let scan: SegmentFile.Scan
            do {
                scan = try segment.scan(fd, verify: false)
            } catch where !segment.sealed {
                continue
            }
            if segment.sealed, let damage = scan.damage {
                throw .corrupt("\(segment.path) is damaged at offset \(damage.offset) (\(damage.reason)); run `sluice verify --data-dir \(directory.path) --repair`")
            }
            statistics.segments += 1
            statistics.blocks += scan.blocks.count
            for block in scan.blocks {
                guard let earliest = query.earliestMatch(in: block) else { continue }
                plan.blocks.append((earliest, PlannedBlock(segment: plan.segments.count, offset: block.offset, header: block.header, version: block.version)))
                opened.unread += 1
            }
            statistics.skippedBlocks += scan.blocks.count - opened.unread
            // Nothing to read, or past the held limit: opened again when the merge gets there.
            if opened.unread == 0 || (segment.sealed && plan.files.count > heldSegmentLimit) { opened.close() }
            plan.segments.append(opened.unread > 0 ? opened : nil)
        }
        return plan
    }

    /// Reads and decodes one planned block: the records the query wants, in stored order.
    func read(_ block: PlannedBlock, from segment: OpenSegment, _ query: StoreQuery) throws(StoreError) -> [StoredRecord] {
        let path = segment.file.path
        guard let fd = try segment.descriptor() else { return [] }
        let frame = try FileIO.pread(fd, path, offset: block.offset, count: block.header.frameLength)
        // The writer cut a failed write back; those records go to a later block.
        if frame.count < block.header.frameLength, !segment.file.sealed { return [] }
        guard frame.count == block.header.frameLength, BlockFrame.checksumMatches(frame, block.header) else {
            throw .corrupt("\(path): block at offset \(block.offset) fails its checksum (run sluice verify)")
        }
        let groups = try BlockFrame.groups(frame, block.header, version: block.version)
        let count = groups.reduce(0) { $0 + $1.times.count }
        guard count == block.header.recordCount else {
            throw .corrupt("\(path): block at offset \(block.offset) holds \(count) records, its header says \(block.header.recordCount)")
        }
        var records: [StoredRecord] = []
        for group in groups where query.mayMatch(group.key) { group.appendRecords(to: &records) }
        records.removeAll { !query.matches($0) }
        return records
    }
}
