import SluiceModel

/// What the segment writer stores: raw records from the ingest edge, or closed windows and
/// checkpoints from the window aggregator.
public struct StoreBatch: Sendable {
    public var records: [Record]
    public var outputs: [OutputRecord]
    /// To resolve once these records are durable (only the segment writer resolves them).
    public var acknowledgements: [Acknowledgement]
    /// The aggregator's open windows as of these outputs, to keep once they are durable.
    public var checkpoint: Checkpoint?
    /// The anomaly detector's models as of these outputs (`StageEvent.detectorCheckpoint`), to
    /// keep once they are durable.
    public var detectorCheckpoint: [UInt8]?
    /// Answers to requests with an `Idempotency-Key`, stored in the same block as `records`.
    public var receipts: [IngestReceipt]

    public enum Checkpoint: Sendable, Equatable {
        /// Replace the checkpoint with these bytes (`WindowCheckpoint.encoded()`).
        case save([UInt8])
        /// No window is open any more: remove it.
        case clear
    }

    public init(records: [Record] = [], outputs: [OutputRecord] = [], acknowledgements: [Acknowledgement] = [], checkpoint: Checkpoint? = nil,
                detectorCheckpoint: [UInt8]? = nil, receipts: [IngestReceipt] = []) {
        self.records = records
        self.outputs = outputs
        self.acknowledgements = acknowledgements
        self.checkpoint = checkpoint
        self.detectorCheckpoint = detectorCheckpoint
        self.receipts = receipts
    }
}
