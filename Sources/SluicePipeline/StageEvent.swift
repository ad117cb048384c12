import SluiceModel

/// What flows between the stages after the window aggregator, in record order.
///
/// Keeping outputs, token records and watermarks in one ordered stream is what makes output
/// independent of how input was cut into batches: every stage reacts at the same record,
/// whatever the batch boundaries, so `run` and `replay` write the same bytes.
public enum StageEvent: Sendable, Hashable {
    /// A record to emit (a closed window, an anomaly, an alert…).
    case output(OutputRecord)
    /// A token-usage record on its way to the token meter.
    case tokenUsage(TokenUsageRecord)
    /// Event time has advanced: everything before this instant (minus nothing: the aggregator
    /// has already subtracted the allowed lateness) is final.
    case watermark(Timestamp)
    /// The anomaly detector's models (`AnomalyDetector.StateMachine.encoded()`) as of this
    /// point in the stream. The store keeps them only once every anomaly before them is stored,
    /// so after a crash they never speak for an anomaly the store lacks.
    case detectorCheckpoint([UInt8])
}
