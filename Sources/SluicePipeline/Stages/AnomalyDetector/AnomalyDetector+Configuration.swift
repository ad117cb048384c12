extension AnomalyDetector {
    /// Which statistics are watched, and when a score becomes an anomaly (`anomaly:` keys).
    public struct Configuration: Sendable, Hashable {
        /// Window statistics scored for every series.
        public var statistics: [String] = ["mean", "p99"]
        /// Per metric name, the statistics to score instead.
        public var metrics: [String: [String]] = [:]
        /// Windows a series must have closed before it may raise an anomaly.
        public var warmup = AnomalyModel.defaultWarmup
        /// The lowest score reported: the threshold that scores best on the Numenta Anomaly
        /// Benchmark's standard profile with the model's chosen constants (the folds of
        /// `Benchmarks/nab_cv.py --grid` choose 0.640–0.653, and 0.759 for a stricter setting).
        public var threshold = 0.643

        public init() {}

        func statistics(for metric: String) -> [String] { metrics[metric] ?? statistics }
    }
}
