import SluiceModel

extension AnomalyDetector {
    /// One model per (series, window length, statistic), fed each closed window in order.
    public struct StateMachine: Sendable {
        public let configuration: Configuration
        /// Per series, its models, one per (window length, statistic) it has closed windows
        /// for: the series key is held once, however many models it has.
        private var models: [SeriesKey: [Slot]] = [:]
        public private(set) var anomalies: UInt64 = 0

        struct Slot: Sendable {
            var length: WindowDuration
            var statistic: String
            var model: AnomalyModel
        }

        public init(configuration: Configuration) { self.configuration = configuration }

        /// Scores a closed window; returns the anomalies it shows (to follow it in the output).
        public mutating func window(_ w: WindowSummary) -> [Anomaly] {
            var found: [Anomaly] = []
            let configuration = self.configuration
            func observe(_ statistic: String, _ value: Double, in slots: inout [Slot]) -> AnomalyModel.Assessment {
                if let i = slots.firstIndex(where: { $0.length == w.span.length && $0.statistic == statistic }) {
                    return slots[i].model.observe(value)
                }
                // The model scores 0 during its warm-up, so a new series cannot alert.
                var model = AnomalyModel(warmup: configuration.warmup)
                let assessment = model.observe(value)
                slots.append(Slot(length: w.span.length, statistic: statistic, model: model))
                return assessment
            }
            for statistic in configuration.statistics(for: w.series.name) {
                guard let value = Self.value(statistic, of: w) else { continue }
                let assessment = observe(statistic, value, in: &models[w.series, default: []])
                guard !assessment.warmingUp, assessment.score >= configuration.threshold else { continue }
                anomalies += 1
                found.append(Anomaly(
                    timestamp: w.span.end, series: w.series, statistic: statistic, value: value,
                    expected: assessment.expected, score: assessment.score,
                    reason: Self.reason(statistic, w.series.name, value, assessment)))
            }
            return found
        }

        public static func value(_ statistic: String, of w: WindowSummary) -> Double? {
            switch statistic {
            case "count": Double(w.count)
            case "sum": w.sum
            case "min": w.min
            case "max": w.max
            case "mean": w.mean
            case "p50": w.p50
            case "p90": w.p90
            case "p95": w.p95
            case "p99": w.p99
            default: nil
            }
        }

        /// "p99 response_time 840 ms, expected 120 ± 35 ms".
        static func reason(_ statistic: String, _ name: String, _ value: Double, _ a: AnomalyModel.Assessment) -> String {
            let unit: String
            switch name {
            case "response_time", "db_query_time": unit = " ms"
            case "memory_usage": unit = " MB"
            default: unit = ""
            }
            return "\(statistic) \(name) \(compact(value))\(unit), expected \(compact(a.expected)) ± \(compact(a.deviation))\(unit)"
        }

        /// Three significant digits, plainly written.
        static func compact(_ v: Double) -> String {
            guard v.isFinite else { return "\(v)" }
            let magnitude = abs(v)
            if magnitude >= 100 || magnitude == 0 { return "\(Int64(v.rounded()))" }
            let digits = magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            let r = (v * scale).rounded() / scale
            return r == r.rounded() ? "\(Int64(r))" : "\(r)"
        }
    }
}
