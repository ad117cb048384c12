import SluiceModel
import SluicePipeline

extension SegmentWriter {
    /// When to flush a block, sync, and seal the segment: pure, time passed in.
    struct StateMachine {
        let configuration: Configuration
        /// The block being built.
        private(set) var block = BlockBuilder()
        /// Acknowledgements of records in the block, resolved once it is written (and synced).
        private(set) var waiting: [Acknowledgement] = []

        /// Hands over the acknowledgements the last flush has made good.
        mutating func takeAcknowledgements() -> [Acknowledgement] {
            defer { waiting = [] }
            return waiting
        }
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
            /// Flush (and sync, per the policy) what came before, then replace the window
            /// checkpoint and the anomaly detector's, whichever came: each may only speak for
            /// windows and anomalies the store already holds.
            case checkpoint(StoreBatch.Checkpoint?, detector: [UInt8]?, sync: Bool)
        }

        mutating func batch(_ batch: StoreBatch) -> Action {
            block.learn(batch.seriesKeys)
            // Read in place: iterating the array would copy (retain and release) every record.
            batch.records.withUnsafeBufferPointer { records in
                if batch.samples.count == records.count {
                    batch.samples.withUnsafeBufferPointer { block.add(records, samples: $0) }
                } else {
                    block.add(records)
                }
            }
            for output in batch.outputs { block.add(output) }
            // A whole batch goes into one block, so its receipts share its records' frame.
            block.receipts += batch.receipts
            waiting += batch.acknowledgements
            if batch.checkpoint != nil || batch.detectorCheckpoint != nil {
                return .checkpoint(batch.checkpoint, detector: batch.detectorCheckpoint, sync: configuration.fsync != .never)
            }
            // Someone waits for these records to be durable: flush and sync now.
            if !batch.acknowledgements.isEmpty, configuration.fsync == .always { return .flush(sync: true) }
            guard block.count >= configuration.flushRecords else { return .none }
            return .flush(sync: configuration.fsync == .always)
        }

        /// The flush interval has passed.
        mutating func tick() -> Action {
            let sync = configuration.fsync != .never
            if block.isEmpty { return sync ? .sync : .none }
            return .flush(sync: sync)
        }

        /// Hands over the block built so far, to be framed off the driver (compression takes a
        /// while), and starts the next one; `nil` when it is empty.
        mutating func takeBlock() -> BlockBuilder? {
            guard !block.isEmpty else { return nil }
            var taken = BlockBuilder()
            swap(&taken, &block)
            block = taken.handOff()
            return taken
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
