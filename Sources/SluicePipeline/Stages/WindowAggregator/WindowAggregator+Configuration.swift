import SluiceModel

extension WindowAggregator {
    /// Window lengths and allowed lateness (`pipeline.windows`, `pipeline.lateness`).
    public struct Configuration: Sendable, Hashable {
        /// Tumbling window lengths, each aligned to the Unix epoch.
        public var windows: [WindowDuration]
        /// A window `[start, end)` closes once (largest event time seen − lateness) ≥ end.
        public var lateness: WindowDuration

        public init(windows: [WindowDuration] = [.minutes(1)], lateness: WindowDuration = .seconds(5)) {
            precondition(!windows.isEmpty, "at least one window length")
            precondition(windows.allSatisfy { $0.microseconds > 0 }, "window lengths are positive")
            // Sorted and unique, so that output order by length is the array order.
            self.windows = Array(Set(windows)).sorted()
            self.lateness = lateness
        }
    }
}
