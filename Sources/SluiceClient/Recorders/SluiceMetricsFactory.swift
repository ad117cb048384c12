import CoreMetrics
import Synchronization

/// A swift-metrics backend that reports to Sluice: an app that calls
/// `MetricsSystem.bootstrap(SluiceMetricsFactory(client: client))` reports everything its
/// libraries measure (Hummingbird's metrics middleware, async-http-client, postgres-nio…).
///
/// Each metric becomes `metric` records named by its label, with its dimensions as labels:
/// - a counter reports what it counted since the previous interval (a window's `sum` is then
///   its exact increase), and nothing in an interval where it did not move;
/// - a gauge or meter reports its value every interval;
/// - a timer reports each duration as a sample in milliseconds, and a histogram recorder each
///   value, so windows have their percentiles.
///
/// Counters and gauges are aggregated here and pulled by the client each interval, so they
/// cost nothing per increment beyond an atomic add, and keep counting while Sluice is away.
/// Timer and histogram samples are queued as they come, without ever blocking the caller (a
/// swift-metrics handler is synchronous, and may run on an event loop): when the buffer is full
/// they are dropped and counted under `.wait` (which keeps everything else queued), and the
/// oldest queued records make room under `.dropOldest`. Size `bufferCapacity` for the bursts of
/// timings between two flushes.
public final class SluiceMetricsFactory: MetricsFactory, Sendable {
    private let client: SluiceClient
    private let tenant: String?
    private let registry = Mutex<Registry>(Registry())

    private struct Key: Hashable {
        var label: String
        var labels: Labels
    }

    private struct Registry {
        var counters: [Key: CounterBox] = [:]
        var floatingCounters: [Key: FloatingCounterBox] = [:]
        var gauges: [Key: GaugeBox] = [:]
        var samplers: [Key: SampleBox] = [:]
    }

    /// - Parameter tenant: the tenant the metrics are reported as; the client's by default.
    public init(client: SluiceClient, tenant: String? = nil) {
        self.client = client
        self.tenant = tenant ?? client.configuration.tenant
        client.addReporter { [weak self] now in self?.report(at: now) ?? [] }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        handler(Self.key(label, dimensions), \.counters) { CounterBox() }
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        handler(Self.key(label, dimensions), \.floatingCounters) { FloatingCounterBox() }
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        gauge(Self.key(label, dimensions))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let key = Self.key(label, dimensions)
        if !aggregate { return gauge(key) }
        return sampler(key, divisor: 1)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        sampler(Self.key(label, dimensions), divisor: 1e6)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        registry.withLock { r in r.counters = r.counters.filter { $0.value !== handler } }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        registry.withLock { r in r.floatingCounters = r.floatingCounters.filter { $0.value !== handler } }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        registry.withLock { r in r.gauges = r.gauges.filter { $0.value !== handler } }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        registry.withLock { r in
            r.gauges = r.gauges.filter { $0.value !== handler }
            r.samplers = r.samplers.filter { $0.value !== handler }
        }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        registry.withLock { r in r.samplers = r.samplers.filter { $0.value !== handler } }
    }

    private func gauge(_ key: Key) -> GaugeBox {
        handler(key, \.gauges) { GaugeBox() }
    }

    private func sampler(_ key: Key, divisor: Double) -> SampleBox {
        handler(key, \.samplers) { SampleBox(client: client, tenant: tenant, name: key.label, labels: key.labels, divisor: divisor) }
    }

    /// The handler registered for `key`, made on first use: swift-metrics users (Hummingbird's
    /// middleware among them) make a new `Counter` per use and expect the same series.
    private func handler<Box>(_ key: Key, _ table: WritableKeyPath<Registry, [Key: Box]> & Sendable, _ make: () -> Box) -> Box {
        registry.withLock { r in
            if let existing = r[keyPath: table][key] { return existing }
            let box = make()
            r[keyPath: table][key] = box
            return box
        }
    }

    /// Counters' increases and gauges' values, one record each, for the interval ending `now`.
    private func report(at now: Timestamp) -> [Record] {
        let (counters, floating, gauges) = registry.withLock { ($0.counters, $0.floatingCounters, $0.gauges) }
        var out: [Record] = []
        func sample(_ key: Key, _ value: Double) {
            out.append(.metric(MetricRecord(timestamp: now, tenantID: tenant, labels: key.labels, name: key.label, value: value)))
        }
        for (key, box) in counters {
            let delta = box.take()
            if delta != 0 { sample(key, Double(delta)) }
        }
        for (key, box) in floating {
            let delta = box.take()
            if delta != 0 { sample(key, delta) }
        }
        for (key, box) in gauges {
            if let value = box.value, value.isFinite { sample(key, value) }
        }
        return out
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> Key {
        Key(label: label, labels: Labels(dimensions.map { Labels.Label(key: $0.0, value: $0.1) }))
    }
}

/// A counter: increments since the last report.
private final class CounterBox: CounterHandler, Sendable {
    private let count = Atomic<Int64>(0)
    func increment(by amount: Int64) { count.wrappingAdd(amount, ordering: .relaxed) }
    func reset() { count.store(0, ordering: .relaxed) }
    func take() -> Int64 { count.exchange(0, ordering: .relaxed) }
}

private final class FloatingCounterBox: FloatingPointCounterHandler, Sendable {
    private let count = Mutex<Double>(0)
    func increment(by amount: Double) { count.withLock { $0 += amount } }
    func reset() { count.withLock { $0 = 0 } }
    func take() -> Double { count.withLock { value in defer { value = 0 }; return value } }
}

/// A gauge, meter or non-aggregating recorder: its last value.
private final class GaugeBox: MeterHandler, RecorderHandler, Sendable {
    private let current = Mutex<Double?>(nil)
    var value: Double? { current.withLock { $0 } }
    func set(_ value: Int64) { current.withLock { $0 = Double(value) } }
    func set(_ value: Double) { current.withLock { $0 = value } }
    func increment(by amount: Double) { current.withLock { $0 = ($0 ?? 0) + amount } }
    func decrement(by amount: Double) { current.withLock { $0 = ($0 ?? 0) - amount } }
    func record(_ value: Int64) { set(value) }
    func record(_ value: Double) { set(value) }
}

/// A timer (nanoseconds reported as milliseconds) or a histogram: every value is a sample.
private final class SampleBox: TimerHandler, RecorderHandler, Sendable {
    let client: SluiceClient
    let tenant: String?
    let name: String
    let labels: Labels
    /// 1e6 for a timer's nanoseconds: divided rather than multiplied by 1e-6, so that a whole
    /// number of microseconds becomes the nearest double to its milliseconds.
    let divisor: Double

    init(client: SluiceClient, tenant: String?, name: String, labels: Labels, divisor: Double) {
        self.client = client
        self.tenant = tenant
        self.name = name
        self.labels = labels
        self.divisor = divisor
    }

    func recordNanoseconds(_ duration: Int64) { record(Double(duration)) }
    func record(_ value: Int64) { record(Double(value)) }
    func record(_ value: Double) {
        let sample = value / divisor
        guard sample.isFinite else { return }
        client.recordNow([.metric(MetricRecord(timestamp: .now(), tenantID: tenant, labels: labels, name: name, value: sample))])
    }
}
