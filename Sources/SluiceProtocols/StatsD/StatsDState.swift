import SluiceModel
import SluicePipeline

/// StatsD and DogStatsD lines to records (design §10): the pure part of the listeners, which
/// share one state so that a gauge or a set means the same whichever socket its lines came by.
///
/// - `c`: a sample of value ÷ sample rate (the client sent one in 1/rate);
/// - `g`: a sample; with a `+` or `-` sign, the series' previous gauge value plus the change
///   (0 when there is none);
/// - `ms`, `h`, `d`: a sample each (timers in milliseconds, as sent);
/// - `s`: a member of the series' set for the current set interval. Each interval keeps one
///   HyperLogLog per series (exact up to 2,048 members) and, once over, comes out as one sample
///   whose value is the number of distinct members, timed at the interval's start.
///
/// A series is (tenant, name, tags). `|#k:v` tags are labels, and a `tenant_id` tag names the
/// tenant; without one the listener's tenant applies. Pure and synchronous: the caller passes
/// the time, and calls `flush(through:)` as its clock ticks and `finish()` on shutdown.
public struct StatsDState: Sendable {
    /// `ingest.statsd`, and the limits it shares with the other sources.
    public struct Configuration: Sendable {
        /// Tenant of lines without a `tenant_id` tag (`ingest.statsd.tenant`).
        public var tenantID: String?
        /// Length of a set interval: the smallest window length, so each window sees whole sets.
        public var setInterval: WindowDuration
        /// `ingest.max_labels`.
        public var maximumLabels: Int
        /// `ingest.max_line_bytes`.
        public var maximumLineBytes: Int
        /// Series whose gauge value, and series per set interval, are kept at most: beyond, a
        /// line that needs a new one is refused, so that a flood of names cannot exhaust memory.
        public var maximumSeries: Int

        public init(tenantID: String?, setInterval: WindowDuration, maximumLabels: Int = 30, maximumLineBytes: Int = 1 << 20,
                    maximumSeries: Int = 100_000) {
            self.tenantID = tenantID
            self.setInterval = setInterval
            self.maximumLabels = maximumLabels
            self.maximumLineBytes = maximumLineBytes
            self.maximumSeries = maximumSeries
        }
    }

    /// What some lines came to: records ready now, refused lines, and lines skipped on purpose
    /// (DogStatsD events and service checks).
    public struct Received: Sendable {
        public var batch = DecodedBatch()
        public var skipped = 0
        public init() {}
    }

    /// A set interval's open sets are keyed by series and the interval's start.
    struct SetKey: Hashable {
        var series: SeriesKey
        var start: Timestamp
    }

    public let configuration: Configuration
    /// The last value of each gauge series.
    private(set) var gauges: [SeriesKey: Double] = [:]
    /// The sets of intervals not yet flushed.
    private(set) var sets: [SetKey: HyperLogLog] = [:]

    public init(configuration: Configuration) {
        precondition(configuration.setInterval.microseconds > 0, "a set interval is longer than zero")
        self.configuration = configuration
    }

    /// Reads a datagram: one or more lines separated by `\n` (or `\r\n`), numbered from 1.
    public mutating func receive(datagram: UnsafeBufferPointer<UInt8>, now: Timestamp) -> Received {
        var received = Received()
        var splitter = LineSplitter(maximumLineBytes: configuration.maximumLineBytes)
        splitter.feed(datagram) { receive($0, now: now, into: &received) }
        splitter.finish { receive($0, now: now, into: &received) }
        return received
    }

    /// Reads one line a splitter cut (a datagram's, or a TCP stream's).
    public mutating func receive(_ line: LineSplitter.Line, now: Timestamp, into received: inout Received) {
        switch line {
        case .tooLong(let length, let number):
            received.batch.reject(number, DecodeError(.lineTooLong, "line is \(length) bytes, longer than the limit of \(configuration.maximumLineBytes)"))
        case .line(let bytes, let number):
            guard bytes.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { return }
            do throws(LineFault) {
                switch try StatsDLine.parse(bytes) {
                case .metric(let parsed):
                    if let error = apply(parsed, now: now, into: &received.batch) { received.batch.reject(number, error) }
                case .notAMetric:
                    received.skipped += 1
                }
            } catch {
                received.batch.reject(number, error.decodeError)
            }
        }
    }

    /// Applies a parsed line: records for samples, members into sets. A refused line changes
    /// nothing.
    private mutating func apply(_ line: StatsDLine, now: Timestamp, into batch: inout DecodedBatch) -> DecodeError? {
        let context = ProtocolContext(tenantID: configuration.tenantID, now: now, maximumLabels: configuration.maximumLabels)
        let tenant: String?
        let labels: Labels
        switch context.tenantAndLabels(line.tags) {
        case .success(let split): (tenant, labels) = split
        case .failure(let error): return DecodeError(error.reason, "tags: \(error.message)")
        }
        let time = line.timestamp.map { Timestamp(seconds: $0) } ?? now
        if !time.isRepresentable {
            return DecodeError(.badTimestamp, "column \(line.timestampColumn): timestamp \(line.timestamp ?? 0) is outside years 0000 to 9999")
        }
        let series = SeriesKey(tenantID: tenant, name: line.name, labels: labels)
        switch line.kind {
        case .set:
            let key = SetKey(series: series, start: intervalStart(time))
            if sets[key] == nil, sets.count >= configuration.maximumSeries {
                return DecodeError(.outOfRange, "more than \(configuration.maximumSeries) sets are open; the set \"\(line.name)\" is not counted")
            }
            sets[key, default: HyperLogLog()].add(line.member)
        case .gauge:
            if gauges[series] == nil, gauges.count >= configuration.maximumSeries {
                return DecodeError(.outOfRange, "more than \(configuration.maximumSeries) gauges are kept; the gauge \"\(line.name)\" is not taken")
            }
            var value = gauges[series] ?? 0
            var samples: [Double] = []
            for number in line.numbers {
                value = number.signed ? value + number.value : number.value
                guard value.isFinite else { return DecodeError(.nonFinite, "gauge \"\(line.name)\" would become \(value)") }
                samples.append(value)
            }
            gauges[series] = value
            for sample in samples { batch.append(.metric(MetricRecord(timestamp: time, tenantID: tenant, labels: labels, name: line.name, value: sample))) }
        case .counter:
            let samples = line.numbers.map { $0.value / line.rate }
            if let bad = samples.first(where: { !$0.isFinite }) {
                return DecodeError(.nonFinite, "counter \"\(line.name)\" scaled by its sample rate is \(bad)")
            }
            for sample in samples { batch.append(.metric(MetricRecord(timestamp: time, tenantID: tenant, labels: labels, name: line.name, value: sample))) }
        case .timer, .histogram, .distribution:
            for number in line.numbers {
                batch.append(.metric(MetricRecord(timestamp: time, tenantID: tenant, labels: labels, name: line.name, value: number.value)))
            }
        }
        return nil
    }

    /// The start of the set interval `time` falls in (intervals are aligned to the epoch, as
    /// windows are).
    func intervalStart(_ time: Timestamp) -> Timestamp {
        let length = configuration.setInterval.microseconds
        let t = time.microseconds
        let start = t >= 0 ? t - t % length : t - ((t % length) + length) % length
        return Timestamp(microseconds: start)
    }

    /// The sets of every interval over by `time` (its end at or before it), one sample each,
    /// in series order; they are forgotten.
    public mutating func flush(through time: Timestamp) -> [Record] {
        let length = configuration.setInterval.microseconds
        return take { $0.start.microseconds + length <= time.microseconds }
    }

    /// Every open set, at shutdown: an interval still running is reported with what it holds.
    public mutating func finish() -> [Record] {
        take { _ in true }
    }

    /// When the earliest open interval ends, for a driver that sleeps until then; `nil` when
    /// no set is open.
    public var nextFlush: Timestamp? {
        sets.keys.map(\.start).min().map { $0 + configuration.setInterval }
    }

    private mutating func take(_ due: (SetKey) -> Bool) -> [Record] {
        let keys = sets.keys.filter(due).sorted { ($0.start, $0.series) < ($1.start, $1.series) }
        return keys.map { key in
            let estimate = sets.removeValue(forKey: key)!.estimate
            return .metric(MetricRecord(timestamp: key.start, tenantID: key.series.tenantID, labels: key.series.labels, name: key.series.name,
                                        value: Double(estimate)))
        }
    }
}
