extension AnomalyDetector {
    /// Which statistics are watched, and when a score becomes an anomaly (`anomaly:` keys).
    public struct Configuration: Sendable, Hashable {
        /// Window statistics scored for every series.
        public var statistics: [String] = ["mean", "p99"]
        /// Per metric name, the statistics to score instead.
        public var metrics: [String: [String]] = [:]
        /// Windows a series must have closed before it may raise an anomaly.
        public var warmup = AnomalyModel.defaultWarmup
        /// The lowest score reported. (On the Numenta benchmark the best threshold for its
        /// standard profile is 0.65; 0.9 asks for a fully novel value well off the mean.)
        public var threshold = 0.9

        public init() {}

        func statistics(for metric: String) -> [String] { metrics[metric] ?? statistics }
    }
}
