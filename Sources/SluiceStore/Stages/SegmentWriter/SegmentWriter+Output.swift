import DequeModule
import Synchronization
import SluicePipeline

extension SegmentWriter {
    /// The writer's side effects: framed blocks waiting for the disk, the open segment, and the
    /// repair of a write the disk refused.
    ///
    /// A block leaves the queue only once it is written (and synced, when the flush asks for
    /// it), so a failed write loses nothing: the segment is cut back to its last good length
    /// and the same blocks are written again on the next attempt.
    ///
    /// Framing (zstd), writes, syncs and sealing run on the writer's own thread (`lane`, a
    /// one-thread `BlockingWork.Pool`): they take as long as the disk does, must not hold a
    /// cooperative thread meanwhile, and must not wait behind other store work. The state sits under a lock so that it can move between the driver and
    /// the pool thread doing the work; the driver awaits each call before making the next, so
    /// the lock is never contended.
    final class Output: Sendable {
        struct Block: Sendable {
            var frame: [UInt8]
            var records: Int
            var acknowledgements: [Acknowledgement]
        }

        private struct State {
            /// Framed, not yet written.
            var waiting: Deque<Block> = []
            /// Written since the last sync: written again if the sync fails, since the kernel may
            /// have dropped them.
            var unsynced: [Block] = []
            var segment: SegmentAppender?
            var syncedSize = 0
            /// A failed write or sync could not be cut back: the cut comes before the next write.
            var cutPending = false
        }

        private let directory: DataDirectory
        private let statistics: StoreStatistics
        /// New segments are marked for compaction behind ingest.
        private let compacted: Bool
        /// zstd's level for the blocks framed while a segment is open.
        private let level: Int32
        private let lane: BlockingWork.Pool
        /// Kept for every block the lane frames (`nil` if libzstd could not make one: each block
        /// then gets a fresh context).
        private let compressor = try? Zstd.Compressor()
        private let report: @Sendable (String) -> Void
        private let state = Mutex(State())

        init(directory: DataDirectory, statistics: StoreStatistics, compacted: Bool, level: Int32, lane: BlockingWork.Pool,
             report: @escaping @Sendable (String) -> Void) {
            self.directory = directory
            self.statistics = statistics
            self.compacted = compacted
            self.level = level
            self.lane = lane
            self.report = report
        }

        /// Records not yet on disk (waiting or unsynced).
        var heldRecords: Int {
            state.withLock { s in s.waiting.reduce(0) { $0 + $1.records } + s.unsynced.reduce(0) { $0 + $1.records } }
        }

        /// Frames `block` (compressing it, on the pool) and queues it for the next flush.
        func enqueue(_ block: BlockBuilder, acknowledgements: [Acknowledgement]) async throws(StoreError) {
            let (level, compressor) = (self.level, self.compressor)
            let frame = try await BlockingWork.run(on: lane) { () throws(StoreError) -> [UInt8] in
                try BlockFrame.build(block, level: level, compressor: compressor).bytes
            }
            let framed = Block(frame: frame, records: block.count, acknowledgements: acknowledgements)
            state.withLock { $0.waiting.append(framed) }
        }

        /// Replaces (or removes) the window checkpoint.
        func replace(_ checkpoint: StoreBatch.Checkpoint) async throws(StoreError) {
            let file = WindowCheckpointFile(directory: directory)
            try await BlockingWork.run(on: lane) { () throws(StoreError) in
                switch checkpoint {
                case .save(let bytes): try file.save(bytes)
                case .clear: try file.clear()
                }
            }
        }

        /// Replaces the anomaly detector's checkpoint.
        func replace(detector state: [UInt8]) async throws(StoreError) {
            let file = AnomalyStateFile(directory: directory)
            try await BlockingWork.run(on: lane) { () throws(StoreError) in try file.save(state) }
        }

        /// Writes every waiting block; with `sync`, makes them durable. Acknowledgements are
        /// resolved once their block is as durable as the flush asked. Returns the bytes
        /// written. On failure the segment is cut back and the blocks stay queued.
        func flush(sync: Bool) async throws(StoreError) -> Int {
            let (bytes, durable) = try await BlockingWork.run(on: lane) { () throws(StoreError) in try self.writeWaiting(sync: sync) }
            for a in durable { a.resolve(.stored) }
            return bytes
        }

        /// Tells everyone waiting for a held block that it is not durable yet; the blocks stay.
        func failAcknowledgements(_ reason: String) {
            let held = state.withLock { s -> [Acknowledgement] in
                var held: [Acknowledgement] = []
                for i in s.waiting.indices {
                    held += s.waiting[i].acknowledgements
                    s.waiting[i].acknowledgements = []
                }
                for i in s.unsynced.indices {
                    held += s.unsynced[i].acknowledgements
                    s.unsynced[i].acknowledgements = []
                }
                return held
            }
            for a in held { a.resolve(.failed(reason)) }
        }

        /// Syncs and seals the open segment; returns it, sealed (`nil`: there was none). A sync
        /// that fails is repaired as a flush's is (the blocks are written again), and a seal that
        /// fails is carried on by the next call.
        @discardableResult
        func seal() async throws(StoreError) -> SegmentFile? {
            let (durable, sealed) = try await BlockingWork.run(on: lane) { () throws(StoreError) -> ([Acknowledgement], SegmentFile?) in
                let durable = try self.writeWaiting(sync: true).durable
                return (durable, try self.sealOpenSegment())
            }
            for a in durable { a.resolve(.stored) }
            return sealed
        }

        /// `flush`'s work, on a pool thread: returns the bytes written and the acknowledgements
        /// now made good (resolved by the caller, outside the lock).
        private func writeWaiting(sync: Bool) throws(StoreError) -> (bytes: Int, durable: [Acknowledgement]) {
            try state.withLock { s throws(StoreError) -> (bytes: Int, durable: [Acknowledgement]) in
                var bytes = 0
                do throws(StoreError) {
                    if s.cutPending, let open = s.segment {
                        try open.truncate(to: s.syncedSize)
                        s.cutPending = false
                    }
                    while let block = s.waiting.first {
                        if s.segment == nil {
                            let segment = try directory.createSegment(asWritten: compacted)
                            s.segment = segment
                            s.syncedSize = segment.size
                        }
                        try s.segment!.append(block.frame)
                        s.waiting.removeFirst()
                        statistics.recordBlock(records: block.records, bytes: block.frame.count)
                        bytes += block.frame.count
                        s.unsynced.append(block)
                    }
                    if sync {
                        try s.segment?.sync()
                        s.syncedSize = s.segment?.size ?? 0
                    }
                } catch {
                    repair(&s)
                    throw error
                }
                guard sync || s.segment == nil else { return (bytes, []) }
                defer { s.unsynced = [] }
                return (bytes, s.unsynced.flatMap(\.acknowledgements))
            }
        }

        /// `seal`'s work, on a pool thread, after a sync: the segment is let go only once sealed,
        /// so a seal that fails midway (a rename, a directory fsync) is finished by the next call.
        private func sealOpenSegment() throws(StoreError) -> SegmentFile? {
            try state.withLock { s throws(StoreError) -> SegmentFile? in
                guard let open = s.segment else { return nil }
                let sealed = try open.seal()
                s.segment = nil
                s.unsynced = []
                return sealed
            }
        }

        /// After a failed write or sync: cut the segment back to what is known durable and queue
        /// the blocks since then again. If even the cut fails, it is made again before the next
        /// write: writing the blocks to a new segment instead would leave the whole ones in the
        /// old one too, and a restart would find them twice.
        private func repair(_ s: inout State) {
            guard let open = s.segment else { return }
            do {
                try open.truncate(to: s.syncedSize)
                s.cutPending = false
            } catch {
                report("could not cut \(open.file.path) back to \(s.syncedSize) bytes (\(error)); cutting it again before the next write")
                s.cutPending = true
            }
            statistics.forget(records: s.unsynced.reduce(0) { $0 + $1.records }, bytes: s.unsynced.reduce(0) { $0 + $1.frame.count }, blocks: s.unsynced.count)
            s.waiting.insert(contentsOf: s.unsynced, at: 0)
            s.unsynced = []
        }
    }
}
