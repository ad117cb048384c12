import SluiceModel

extension AnomalyDetector {
    /// One model per (series, window length, statistic), fed each closed window in order.
    public struct StateMachine: Sendable {
        public let configuration: Configuration
        /// Per series, its models, one per (window length, statistic) it has closed windows
        /// for: the series key is held once, however many models it has.
        private var models: [SeriesKey: [Slot]] = [:]
        public private(set) var anomalies: UInt64 = 0
        /// The latest window end scored (µs); `Int64.min` before the first. Windows that close
        /// after a checkpoint end later than its `through`, which is where a restart's rebuild
        /// from the store starts.
        public private(set) var through = Int64.min
        /// The longest window length scored (µs), so a rebuild knows how far back the windows
        /// ending after `through` start.
        public private(set) var longest: Int64 = 0

        struct Slot: Sendable {
            var length: WindowDuration
            var statistic: String
            /// The end of the latest window this model scored (µs): a window ending no later
            /// was scored before a restart and is not scored again.
            var lastEnd: Int64
            var model: AnomalyModel
        }

        public init(configuration: Configuration) { self.configuration = configuration }

        /// Scores a closed window; returns the anomalies it shows (to follow it in the output).
        ///
        /// A window its model has already scored (one a restart closes again) changes nothing.
        public mutating func window(_ w: WindowSummary) -> [Anomaly] {
            var found: [Anomaly] = []
            let configuration = self.configuration
            let end = w.span.end.microseconds
            func observe(_ statistic: String, _ value: Double, in slots: inout [Slot]) -> AnomalyModel.Assessment? {
                if let i = slots.firstIndex(where: { $0.length == w.span.length && $0.statistic == statistic }) {
                    guard end > slots[i].lastEnd else { return nil }
                    slots[i].lastEnd = end
                    return slots[i].model.observe(value)
                }
                // The model scores 0 during its warm-up, so a new series cannot alert.
                var model = AnomalyModel(warmup: configuration.warmup)
                let assessment = model.observe(value)
                slots.append(Slot(length: w.span.length, statistic: statistic, lastEnd: end, model: model))
                return assessment
            }
            through = max(through, end)
            longest = max(longest, w.span.length.microseconds)
            for statistic in configuration.statistics(for: w.series.name) {
                guard let value = Self.value(statistic, of: w),
                      let assessment = observe(statistic, value, in: &models[w.series, default: []]) else { continue }
                guard !assessment.warmingUp, assessment.score >= configuration.threshold else { continue }
                anomalies += 1
                found.append(Anomaly(
                    timestamp: w.span.end, series: w.series, statistic: statistic, value: value,
                    expected: assessment.expected, score: assessment.score,
                    reason: Self.reason(statistic, w.series.name, value, assessment), window: w.span.length))
            }
            return found
        }

        /// Scores the stored windows that closed after this state was checkpointed (a stop
        /// came before the next checkpoint), as they were scored then, and returns the
        /// anomalies they show that are not among `storedAnomalies` (the stop came before
        /// those reached the store). Windows must come in store order (by start).
        public mutating func recover(windows: [WindowSummary], storedAnomalies: [Anomaly]) -> [Anomaly] {
            let checkpointed = through
            // An anomaly stored without its window length (before it was kept) stands for any.
            struct Key: Hashable { var timestamp: Timestamp; var series: SeriesKey; var statistic: String; var window: WindowDuration? }
            let known = Set(storedAnomalies.map { Key(timestamp: $0.timestamp, series: $0.series, statistic: $0.statistic, window: $0.window) })
            func stored(_ a: Anomaly) -> Bool {
                let key = Key(timestamp: a.timestamp, series: a.series, statistic: a.statistic, window: a.window)
                return known.contains(key) || known.contains(Key(timestamp: key.timestamp, series: key.series, statistic: key.statistic, window: nil))
            }
            var found: [Anomaly] = []
            for w in windows where w.span.end.microseconds > checkpointed && !w.partial {
                found += window(w).filter { !stored($0) }
            }
            return found
        }

        /// Where the windows that close after this state start: a rebuild reads the store
        /// from here. `nil` before the first window.
        public var rebuildFrom: Timestamp? {
            through == .min ? nil : Timestamp(microseconds: through - longest + 1)
        }

        /// Models held, one per (series, window length, statistic).
        public var modelCount: Int { models.values.reduce(0) { $0 + $1.count } }

        /// The state as bytes (the payload of the detector's checkpoint): equal states give
        /// equal bytes. `init(configuration:restoring:)` reads them back.
        public func encoded() -> [UInt8] {
            var w = BinaryWriter()
            w.i64(through)
            w.i64(longest)
            w.varint(anomalies)
            w.varint(models.count)
            for (series, slots) in models.sorted(by: { $0.key < $1.key }) {
                series.encode(into: &w)
                w.varint(slots.count)
                for slot in slots {
                    w.varint(UInt64(slot.length.microseconds))
                    w.string(slot.statistic)
                    w.i64(slot.lastEnd)
                    slot.model.encode(into: &w)
                }
            }
            return w.bytes
        }

        /// A detector resumed from `encoded()` bytes; it scores what follows exactly as the
        /// one that wrote them would have. Throws on bytes it cannot hold, never traps.
        public init(configuration: Configuration, restoring bytes: [UInt8]) throws(BinaryDecodingError) {
            self.configuration = configuration
            var r = BinaryReader(bytes)
            through = try r.i64()
            longest = try r.i64()
            anomalies = try r.varint()
            guard longest >= 0, longest <= WindowDuration.longest.microseconds else { throw .malformed("window length \(longest) µs is out of range") }
            for _ in 0..<(try r.count(minimumSize: 2)) {
                let series = try SeriesKey(decoding: &r)
                var slots: [Slot] = []
                for _ in 0..<(try r.count(minimumSize: 20, maximum: 1_024)) {
                    let length = try r.varint()
                    guard length > 0, length <= UInt64(longest) else { throw .malformed("window length \(length) µs is out of range") }
                    let statistic = try r.string(), lastEnd = try r.i64()
                    slots.append(Slot(length: WindowDuration(microseconds: Int64(length)), statistic: statistic, lastEnd: lastEnd,
                                      model: try AnomalyModel(decoding: &r)))
                }
                guard models.updateValue(slots, forKey: series) == nil else { throw .malformed("series \(series) appears twice") }
            }
            try r.expectEnd("the detector's models")
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

        /// "p99 response_time 840 ms, expected 120 ± 35 ms (novelty 0.93)": the statistic, its
        /// value, the expected band, and the detector that fired with its score.
        static func reason(_ statistic: String, _ name: String, _ value: Double, _ a: AnomalyModel.Assessment) -> String {
            let unit: String
            switch name {
            case "response_time", "db_query_time": unit = " ms"
            case "memory_usage": unit = " MB"
            default: unit = ""
            }
            return "\(statistic) \(name) \(compact(value))\(unit), expected \(compact(a.expected)) ± \(compact(a.deviation))\(unit) (\(a.detector.label) \(compact(a.score)))"
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
