import CSluicePrefetch
import SluiceModel

extension WindowAggregator {
    /// Tumbling event-time windows, pure and synchronous: records in, closed windows out.
    ///
    /// Flink's vocabulary: each window length has an assigner (epoch-aligned `[start, end)`),
    /// the watermark is the largest event time seen minus the allowed lateness, and a window
    /// fires when the watermark reaches its end. A record for a window that has fired is late:
    /// not added, counted.
    ///
    /// `checkpoint()` and `init(configuration:resuming:)` carry the whole state across a
    /// restart (`WindowAggregator+Resume.swift`).
    public struct StateMachine: Sendable {
        public let configuration: Configuration
        public internal(set) var registry = SeriesRegistry()
        var lengths: [LengthState]
        var maxEventTime = Int64.min
        /// Windows ending at or before this instant have fired.
        public internal(set) var watermark = Int64.min
        /// Watermark events go downstream when it crosses a multiple of this.
        private let tick: Int64
        public internal(set) var late: UInt64 = 0
        public internal(set) var lateByWindow: [UInt64]
        /// The input position (a stream sequence) of the last batch taken that had one; 0
        /// for none. Checkpoints carry it, so a resumed reader knows where to start.
        public var position: UInt64 = 0

        struct LengthState: Sendable {
            let length: Int64
            /// Open windows, ascending by start; usually one or two.
            var open: [(start: Int64, pane: Pane)] = []
        }

        public init(configuration: Configuration) {
            self.configuration = configuration
            lengths = configuration.windows.map { LengthState(length: $0.microseconds) }
            lateByWindow = Array(repeating: 0, count: configuration.windows.count)
            tick = min(1_000_000, configuration.windows[0].microseconds)
        }

        /// Windows still open, for live queries (`partial` summaries).
        public var openWindowCount: Int { lengths.reduce(0) { $0 + $1.open.count } }

        /// Takes one record; appends what it causes (closed windows, a forwarded token record,
        /// a watermark) to `events`, in order.
        public mutating func record(_ record: Record, into events: inout [StageEvent]) {
            let t = record.timestamp.microseconds
            var wasLate = false
            switch record {
            case .metric(let m):
                let id = registry.id(tenantID: m.tenantID, name: m.name, labels: m.labels)
                if let d = m.distribution {
                    for i in lengths.indices {
                        if let j = paneIndex(i, t) { lengths[i].open[j].pane.addDistribution(id, d) } else { lateFor(i, &wasLate) }
                    }
                } else {
                    add(KnownSample(series: id, time: t, value: m.value), in: DDSketch.Bin(m.value), wasLate: &wasLate)
                }
            case .performance(let p):
                var ids: (Int32?, Int32?, Int32?) = (nil, nil, nil)
                if p.dbQueryTime != nil { ids.0 = registry.id(tenantID: p.tenantID, name: "db_query_time", labels: p.labels) }
                if p.memoryUsage != nil { ids.1 = registry.id(tenantID: p.tenantID, name: "memory_usage", labels: p.labels) }
                if p.responseTime != nil { ids.2 = registry.id(tenantID: p.tenantID, name: "response_time", labels: p.labels) }
                for i in lengths.indices {
                    guard let j = paneIndex(i, t) else { lateFor(i, &wasLate); continue }
                    if let id = ids.0, let v = p.dbQueryTime { lengths[i].open[j].pane.addMetric(id, v) }
                    if let id = ids.1, let v = p.memoryUsage { lengths[i].open[j].pane.addMetric(id, v) }
                    if let id = ids.2, let v = p.responseTime { lengths[i].open[j].pane.addMetric(id, v) }
                }
            case .cache(let c):
                let key = CacheKey(tenantID: c.tenantID, cache: c.cache, labels: c.labels)
                for i in lengths.indices {
                    if let j = paneIndex(i, t) { lengths[i].open[j].pane.addCache(key, c) } else { lateFor(i, &wasLate) }
                }
            case .visit(let v):
                for i in lengths.indices {
                    if let j = paneIndex(i, t) { lengths[i].open[j].pane.addVisit(v) } else { lateFor(i, &wasLate) }
                }
            case .tokenUsage(let u):
                events.append(.tokenUsage(u))
            }
            taken(t, wasLate: wasLate, into: &events)
        }

        /// Records looked ahead of: their sketch bins are asked for before the first is added.
        static let lookAhead = 16

        /// Takes a batch of records, in order, as `record(_:into:)` takes each one.
        ///
        /// The records are borrowed where they lie: copying one would retain and release its
        /// strings, and so would passing it to a mutating method. Most are samples of known
        /// series. Those are found `lookAhead` at a time, and the sketch bins they will count in
        /// are prefetched before any is added: a window's sketches are too many for a core's
        /// cache, and fetches that overlap cost about what one costs alone.
        public mutating func take(_ records: UnsafeBufferPointer<Record>, into events: inout [StageEvent]) {
            var none: [StoredSample] = []
            take(records, into: &events, stored: &none, recording: false)
        }

        /// Takes a batch as `take(_:into:)` does, and appends to `stored` one `StoredSample` per
        /// record: what the store needs of it, with the series number found for the windows.
        public mutating func take(_ records: UnsafeBufferPointer<Record>, into events: inout [StageEvent], stored: inout [StoredSample]) {
            take(records, into: &events, stored: &stored, recording: true)
        }

        @inline(__always)
        private mutating func take(
            _ records: UnsafeBufferPointer<Record>, into events: inout [StageEvent], stored: inout [StoredSample], recording: Bool
        ) {
            withUnsafeTemporaryAllocation(of: (KnownSample, DDSketch.Bin)?.self, capacity: Self.lookAhead) { samples in
                var start = 0
                while start < records.count {
                    let n = Swift.min(Self.lookAhead, records.count - start)
                    for k in 0..<n {
                        // The bin (a logarithm) is found once the record is no longer borrowed:
                        // a call made while it is would have the record copied.
                        let sample = knownSample(records[start + k])
                        let known = sample.map { ($0, DDSketch.Bin($0.value)) }
                        samples.initializeElement(at: k, to: known)
                        if let (sample, bin) = known { prefetch(sample, bin) }
                    }
                    for k in 0..<n {
                        if let (sample, bin) = samples[k] {
                            if recording { stored.append(StoredSample(series: sample.series, time: sample.time, value: sample.value)) }
                            take(sample, in: bin, into: &events)
                        } else {
                            if recording { stored.append(StoredSample(other: records[start + k])) }
                            record(records[start + k], into: &events)
                        }
                    }
                    start += n
                }
            }
        }

        /// Starts fetching the count that adding `sample` to the newest window of each length
        /// will change. Only a hint: a window that fires meanwhile, or a sample for an older
        /// one, costs a wasted fetch at most.
        @inline(__always)
        private func prefetch(_ sample: KnownSample, _ bin: DDSketch.Bin) {
            for i in lengths.indices {
                let count = lengths[i].open.count
                guard count > 0 else { continue }
                let length = lengths[i].length
                guard lengths[i].open[count - 1].start == Self.windowStart(sample.time, length) else { continue }
                // The address is found first and fetched after: a call made while the sketch is
                // borrowed would have it copied.
                let address = lengths[i].open[count - 1].pane.metrics.withValue(sample.series) { $0.sketch.countAddress(of: bin) }
                if let address { sluice_prefetch_for_write(address) }
            }
        }

        /// A metric sample (no distribution) of a series the registry knows.
        public struct KnownSample {
            var series: Int32
            var time: Int64
            var value: Double
        }

        /// `record`'s metric sample when its series is known, read from the borrowed record
        /// without copying it; `nil` for any other record, which `record(_:into:)` takes.
        ///
        /// Passing a record to a mutating method copies it, retaining and releasing its strings
        /// and labels, whose counts the store writer's core is changing for the same record.
        public func knownSample(_ record: borrowing Record) -> KnownSample? {
            switch record {
            case .metric(let m):
                guard !m.hasDistribution, let id = registry.knownID(tenantID: m.tenantID, name: m.name, labels: m.labels) else { return nil }
                return KnownSample(series: id, time: m.timestamp.microseconds, value: m.value)
            default:
                return nil
            }
        }

        /// Takes a sample `knownSample` found, as `record(_:into:)` takes its record.
        public mutating func record(_ sample: KnownSample, into events: inout [StageEvent]) {
            take(sample, in: DDSketch.Bin(sample.value), into: &events)
        }

        @inline(__always)
        private mutating func take(_ sample: KnownSample, in bin: DDSketch.Bin, into events: inout [StageEvent]) {
            var wasLate = false
            add(sample, in: bin, wasLate: &wasLate)
            taken(sample.time, wasLate: wasLate, into: &events)
        }

        @inline(__always)
        private mutating func add(_ sample: KnownSample, in bin: DDSketch.Bin, wasLate: inout Bool) {
            for i in lengths.indices {
                if let j = paneIndex(i, sample.time) { lengths[i].open[j].pane.addMetric(sample.series, sample.value, in: bin) } else { lateFor(i, &wasLate) }
            }
        }

        /// After a record at `t`: counts it late if it was, and moves the watermark.
        @inline(__always)
        private mutating func taken(_ t: Int64, wasLate: Bool, into events: inout [StageEvent]) {
            if wasLate { late += 1 }
            if t > maxEventTime {
                maxEventTime = t
                advance(to: t - configuration.lateness.microseconds, into: &events)
            }
        }

        @inline(__always)
        private mutating func lateFor(_ i: Int, _ wasLate: inout Bool) {
            lateByWindow[i] += 1
            wasLate = true
        }

        /// The open window of length `i` holding `t`, opened if need be; `nil` when it has fired.
        @inline(__always)
        private mutating func paneIndex(_ i: Int, _ t: Int64) -> Int? {
            let length = lengths[i].length
            let start = Self.windowStart(t, length)
            if start + length <= watermark { return nil }
            let count = lengths[i].open.count
            // Most records fall in the newest window.
            if count > 0, lengths[i].open[count - 1].start == start { return count - 1 }
            var j = count
            while j > 0, lengths[i].open[j - 1].start > start { j -= 1 }
            if j > 0, lengths[i].open[j - 1].start == start { return j - 1 }
            lengths[i].open.insert((start, Pane()), at: j)
            return j
        }

        /// The start of the epoch-aligned window of `length` that holds `t`.
        @inline(__always)
        static func windowStart(_ t: Int64, _ length: Int64) -> Int64 {
            let offset = t % length
            return offset < 0 ? t - offset - length : t - offset
        }

        /// Moves the watermark forward, firing every window that ends at or before it.
        public mutating func advance(to newWatermark: Int64, into events: inout [StageEvent]) {
            guard newWatermark > watermark else { return }
            let crossedTick = watermark == .min || floorDiv(newWatermark, tick) > floorDiv(watermark, tick)
            watermark = newWatermark
            fire(through: newWatermark, into: &events)
            if crossedTick { events.append(.watermark(Timestamp(microseconds: newWatermark))) }
        }

        /// End of input: every open window fires.
        public mutating func inputFinished(into events: inout [StageEvent]) {
            fire(through: .max, into: &events)
        }

        private mutating func fire(through limit: Int64, into events: inout [StageEvent]) {
            var firing: [(WindowSpan, Pane)] = []
            for i in lengths.indices {
                var fired = 0
                for (start, _) in lengths[i].open {
                    guard limit == .max || start + lengths[i].length <= limit else { break }
                    fired += 1
                }
                guard fired > 0 else { continue }
                let length = WindowDuration(microseconds: lengths[i].length)
                for (start, pane) in lengths[i].open[..<fired] {
                    firing.append((WindowSpan(length: length, start: Timestamp(microseconds: start)), pane))
                }
                lengths[i].open.removeFirst(fired)
            }
            guard !firing.isEmpty else { return }
            firing.sort { $0.0 < $1.0 }
            for (span, pane) in firing { pane.appendSummaries(span: span, registry: registry, to: &events) }
        }

        /// Summaries of the windows still open, marked partial (live queries and the dashboard).
        public func openSummaries() -> [OutputRecord] {
            var out: [OutputRecord] = []
            for state in lengths {
                for (start, pane) in state.open {
                    let span = WindowSpan(length: WindowDuration(microseconds: state.length), start: Timestamp(microseconds: start))
                    for var record in pane.summaries(span: span, registry: registry) {
                        if case .window(var w) = record {
                            w.partial = true
                            record = .window(w)
                        }
                        out.append(record)
                    }
                }
            }
            return out
        }
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
