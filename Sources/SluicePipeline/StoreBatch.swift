import SluiceModel

/// What the segment writer stores: raw records, closed windows and checkpoints from the window
/// aggregator; anomalies and the detector's checkpoints from the sink stage.
public struct StoreBatch: Sendable {
    public var records: [Record]
    /// Empty, or one per record: how the window aggregator saw it (`StoredSample`), so that the
    /// writer finds a metric sample's series by its number instead of looking the record up.
    public var samples: [StoredSample]
    /// The keys of the series the aggregator numbered since its last batch, in number order
    /// (the first batch has every series from 0 on). `samples` name series by these numbers.
    public var seriesKeys: [SeriesKey]
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

    public init(records: [Record] = [], samples: [StoredSample] = [], seriesKeys: [SeriesKey] = [], outputs: [OutputRecord] = [],
                acknowledgements: [Acknowledgement] = [], checkpoint: Checkpoint? = nil,
                detectorCheckpoint: [UInt8]? = nil, receipts: [IngestReceipt] = []) {
        self.records = records
        self.samples = samples
        self.seriesKeys = seriesKeys
        self.outputs = outputs
        self.acknowledgements = acknowledgements
        self.checkpoint = checkpoint
        self.detectorCheckpoint = detectorCheckpoint
        self.receipts = receipts
    }
}

/// One raw record as the window aggregator took it: a metric sample of the series the
/// aggregator numbered `series`, with its time and value; or, for any other record, whether
/// the store keeps it.
///
/// The aggregator has found the series of almost every sample by the time it passes the batch
/// on, so the writer need not look each record up again: it indexes its own numbers by the
/// aggregator's, and reads these 24 bytes instead of the record.
public struct StoredSample: Sendable, Equatable {
    /// The aggregator's series number (0 or more), or `record` or `skipped`.
    public var series: Int32
    /// Microseconds since the epoch (the record's timestamp).
    public var time: Int64
    public var value: Double

    /// The store takes the record itself.
    public static let record: Int32 = -1
    /// The store does not keep the record raw: a histogram point, which only the windows keep.
    public static let skipped: Int32 = -2

    public init(series: Int32, time: Int64, value: Double) {
        self.series = series
        self.time = time
        self.value = value
    }

    /// For a record the aggregator took without numbering its sample.
    @inlinable
    public init(other record: borrowing Record) {
        let stored: Bool
        switch record {
        case .metric(let m): stored = !m.hasDistribution
        default: stored = true
        }
        self.init(series: stored ? Self.record : Self.skipped, time: 0, value: 0)
    }
}
