import SluiceModel
import SluicePipeline

extension SegmentWriter {
    /// When to flush a block, sync, and seal the segment: pure, time passed in.
    struct StateMachine {
        let configuration: Configuration
        private(set) var buffered: [StoredRecord] = []
        private var segmentBytes = 0
        private var segmentOpenedAt: Duration?

        init(configuration: Configuration) { self.configuration = configuration }

        enum Action: Equatable {
            case none
            /// Write the buffered records as a block; then sync (per the fsync policy) and seal
            /// the segment if it has grown or aged past its limit.
            case flush(sync: Bool)
            /// Nothing buffered, but an unsynced block should reach the disk.
            case sync
        }

        mutating func batch(_ batch: StoreBatch) -> Action {
            for r in batch.records { buffered.append(.record(r)) }
            for o in batch.outputs { if let s = StoredRecord(o) { buffered.append(s) } }
            guard buffered.count >= configuration.flushRecords else { return .none }
            return .flush(sync: configuration.fsync == .always)
        }

        /// The flush interval has passed.
        mutating func tick() -> Action {
            let sync = configuration.fsync != .never
            if buffered.isEmpty { return sync ? .sync : .none }
            return .flush(sync: sync)
        }

        /// Hands over the records to write as one block.
        mutating func takeBuffered() -> [StoredRecord] {
            defer { buffered = [] }
            return buffered
        }

        /// A block of `bytes` was appended at `now`; says whether to seal the segment.
        mutating func appended(bytes: Int, now: Duration) -> Bool {
            if segmentOpenedAt == nil { segmentOpenedAt = now }
            segmentBytes += bytes
            if segmentBytes >= configuration.segmentBytes || now - segmentOpenedAt! >= configuration.segmentAge {
                segmentBytes = 0
                segmentOpenedAt = nil
                return true
            }
            return false
        }
    }
}
