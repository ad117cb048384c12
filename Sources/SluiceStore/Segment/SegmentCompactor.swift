#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel

/// Rewrites a segment's blocks into as few blocks as fit `maximumRecords` each, with each
/// series' records together: the writer flushes small blocks for durability (every second),
/// and long runs of one series compress far better.
struct SegmentCompactor {
    let maximumRecords: Int
    let level: Int32

    /// The compacted frames of `segment`, or `nil` when there is nothing to gain.
    func compactedFrames(_ segment: SegmentFile) throws(StoreError) -> [[UInt8]]? {
        let scan = try segment.scan(verify: false)
        guard scan.damage == nil, scan.blocks.count > 1 else { return nil }
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
                frames.append(try BlockFrame.build(&builder, level: level).bytes)
                builder.reset()
            }
        }
        if !builder.isEmpty { frames.append(try BlockFrame.build(&builder, level: level).bytes) }
        return frames
    }
}

extension SegmentCompactor {
    /// The open segment compacted while it is written: each block, once appended, joins the
    /// compacted copy growing beside it (`<id>.open.compact.tmp`, recovery removes it), which
    /// frames a block whenever `maximumRecords` have gathered. Sealing then frames only the
    /// rest, instead of reading the whole segment back and compacting it after the input ended.
    ///
    /// The copy is what `compactedFrames` makes of the finished segment, block for block. It is
    /// given up (and sealing compacts the old way) once anything about it is in doubt: a write
    /// to it failed, or the segment itself was cut back after a failed write. It is also given
    /// up when the records it holds unframed pass `maximumHeldBytes` of encoded payload (window
    /// aggregates carry sketches, so `maximumRecords` of them can be large): memory for the
    /// open segment's whole life is bounded, and only a seal pays for such a segment, as before.
    final class Incremental {
        let compactor: SegmentCompactor
        let maximumHeldBytes: Int
        let temporary: String
        /// Encoded payload bytes of the blocks `builder` holds.
        private var held = 0
        private var builder = BlockBuilder()
        private var fd: Int32 = -1
        /// The copy's file is there (made, not yet moved into place).
        private var exists = false
        private var size = 0
        /// Blocks of the segment taken so far.
        private(set) var blocks = 0
        /// Why the copy was given up.
        private(set) var abandoned: StoreError?

        /// For the open segment `open`. The copy's name is not the one a compaction at the seal
        /// writes, so that falling back to that never touches it.
        init(_ compactor: SegmentCompactor, open: SegmentFile, maximumHeldBytes: Int) {
            self.compactor = compactor
            self.maximumHeldBytes = maximumHeldBytes
            temporary = open.path + ".compact.tmp"
        }

        /// The next block appended to the segment, whose encoded payload is `payloadBytes`.
        func add(_ block: BlockBuilder, payloadBytes: Int) {
            guard abandoned == nil else { return }
            blocks += 1
            var block = block
            block.gather()
            for group in block.groups { builder.append(group) }
            builder.receipts += block.receipts
            held += payloadBytes
            guard builder.count >= compactor.maximumRecords else {
                if held > maximumHeldBytes {
                    abandon(.io("the compacted copy would hold more than \(maximumHeldBytes) bytes of records in memory"))
                }
                return
            }
            do throws(StoreError) {
                try writeBlock()
            } catch {
                abandon(error)
            }
        }

        /// Whether the copy holds all of a segment of `blocks` blocks, and compacting gains
        /// something (a segment of one block is kept as written).
        func covers(blocks: Int) -> Bool { abandoned == nil && blocks > 1 && self.blocks == blocks }

        /// Frames the rest and moves the copy to `path`, durably; the caller syncs the directory.
        /// A failure leaves nothing behind.
        func finish(as path: String) throws(StoreError) {
            if let abandoned { throw abandoned }
            do throws(StoreError) {
                if !builder.isEmpty { try writeBlock() }
                try openIfNeeded()
                try FileIO.fsync(fd, temporary)
                close(fd)
                fd = -1
                try FileIO.rename(temporary, path)
                exists = false
            } catch {
                abandon(error)
                throw error
            }
        }

        /// Gives the copy up, removing what was written of it.
        func abandon(_ reason: StoreError) {
            if abandoned == nil { abandoned = reason }
            discard()
        }

        /// Lets go of the copy's memory, and of its file unless `finish` moved it into place.
        func discard() {
            builder = BlockBuilder()
            if fd >= 0 {
                close(fd)
                fd = -1
            }
            if exists {
                try? FileIO.remove(temporary)
                exists = false
            }
        }

        private func writeBlock() throws(StoreError) {
            let frame = try BlockFrame.build(&builder, level: compactor.level).bytes
            builder = BlockBuilder()
            held = 0
            try openIfNeeded()
            try FileIO.writeAll(fd, temporary, frame, at: size)
            size += frame.count
        }

        private func openIfNeeded() throws(StoreError) {
            guard fd < 0 else { return }
            fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
            exists = true
            try FileIO.writeAll(fd, temporary, SegmentFile.header(), at: 0)
            size = SegmentFile.headerBytes
        }

        deinit { if fd >= 0 { close(fd) } }
    }
}
