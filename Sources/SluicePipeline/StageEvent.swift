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
}
