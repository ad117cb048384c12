import DequeModule
import SluicePipeline

extension SegmentWriter {
    /// The writer's side effects: framed blocks waiting for the disk, the open segment, and the
    /// repair of a write the disk refused.
    ///
    /// A block leaves the queue only once it is written (and synced, when the flush asks for
    /// it), so a failed write loses nothing: the segment is cut back to its last good length
    /// and the same blocks are written again on the next attempt.
    final class Output {
        struct Block {
            var frame: [UInt8]
            var records: Int
            var acknowledgements: [Acknowledgement]
        }

        private let directory: DataDirectory
        private let statistics: StoreStatistics
        private let compactor: SegmentCompactor?
        private let report: @Sendable (String) -> Void
        /// Framed, not yet written.
        private var waiting: Deque<Block> = []
        /// Written since the last sync: written again if the sync fails, since the kernel may
        /// have dropped them.
        private var unsynced: [Block] = []
        private var segment: SegmentAppender?
        private var syncedSize = 0

        init(directory: DataDirectory, statistics: StoreStatistics, compactor: SegmentCompactor?, report: @escaping @Sendable (String) -> Void) {
            self.directory = directory
            self.statistics = statistics
            self.compactor = compactor
            self.report = report
        }

        /// Records not yet on disk (waiting or unsynced).
        var heldRecords: Int { (waiting + unsynced).reduce(0) { $0 + $1.records } }

        func enqueue(_ block: Block) { waiting.append(block) }

        /// Writes every waiting block; with `sync`, makes them durable. Acknowledgements are
        /// resolved once their block is as durable as the flush asked. Returns the bytes
        /// written. On failure the segment is cut back and the blocks stay queued.
        func flush(sync: Bool) throws(StoreError) -> Int {
            var bytes = 0
            do {
                while let block = waiting.first {
                    if segment == nil {
                        segment = try directory.createSegment()
                        syncedSize = segment!.size
                    }
                    try segment!.append(block.frame)
                    waiting.removeFirst()
                    statistics.recordBlock(records: block.records, bytes: block.frame.count)
                    bytes += block.frame.count
                    unsynced.append(block)
                }
                if sync {
                    try segment?.sync()
                    syncedSize = segment?.size ?? 0
                }
            } catch {
                repair()
                throw error
            }
            if sync || segment == nil {
                for block in unsynced { for a in block.acknowledgements { a.resolve(.stored) } }
                unsynced = []
            }
            return bytes
        }

        /// Tells everyone waiting for a held block that it is not durable yet; the blocks stay.
        func failAcknowledgements(_ reason: String) {
            for i in waiting.indices {
                for a in waiting[i].acknowledgements { a.resolve(.failed(reason)) }
                waiting[i].acknowledgements = []
            }
            for i in unsynced.indices {
                for a in unsynced[i].acknowledgements { a.resolve(.failed(reason)) }
                unsynced[i].acknowledgements = []
            }
        }

        /// Seals the open segment (it has been synced). Compaction needs room for a copy: when
        /// it fails, the segment is sealed as written instead.
        func seal() throws(StoreError) {
            guard let open = segment else { return }
            try open.sync()
            segment = nil
            unsynced = []
            do {
                _ = try open.seal(compactor: compactor)
            } catch where compactor != nil {
                report("could not compact \(open.file.path) (\(error)); sealed it uncompacted")
                _ = try open.seal(compactor: nil)
            }
        }

        /// After a failed write or sync: cut the segment back to what is known durable and queue
        /// the blocks since then again. If even the cut fails, leave that segment for recovery
        /// (its tail is checked at the next start) and write the blocks to a new one.
        private func repair() {
            guard let open = segment else { return }
            do {
                try open.truncate(to: syncedSize)
            } catch {
                report("could not cut \(open.file.path) back to \(syncedSize) bytes (\(error)); it is left for recovery, and the blocks go to a new segment")
                open.abandon()
                segment = nil
            }
            statistics.forget(records: unsynced.reduce(0) { $0 + $1.records }, bytes: unsynced.reduce(0) { $0 + $1.frame.count }, blocks: unsynced.count)
            waiting.insert(contentsOf: unsynced, at: 0)
            unsynced = []
        }
    }
}
