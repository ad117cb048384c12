import Testing
import SluiceModel
@testable import SluicePipeline

/// Histogram points (OTLP) reach a window as one record standing for many samples.
@Suite("Windows take histogram points")
struct DistributionWindowTests {
    static let base: Int64 = 1_795_514_400_000_000  // 2026-11-24T10:00:00Z

    /// A histogram of `values` as a client would send it: count, sum, min, max, and the values
    /// placed in the sketch at their buckets' midpoints (buckets of width 10 from 0).
    static func histogram(_ values: [Double]) -> Distribution {
        var sketch = DDSketch()
        var buckets: [Int: UInt64] = [:]
        for v in values { buckets[Int(v / 10), default: 0] += 1 }
        for (b, n) in buckets { sketch.add(Double(b) * 10 + 5, count: n) }
        sketch.settingExtremes(min: values.min(), max: values.max())
        return Distribution(sketch: sketch, sum: values.reduce(0, +), bucketError: 1)
    }

    @Test("a window's count, sum, min and max over histogram points and plain samples are the raw samples' own")
    func exactStatistics() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .zero))
        var events: [StageEvent] = []
        let first: [Double] = [3, 14, 15, 92, 65]
        let second: [Double] = [35.5, 8.25, 97, 93]
        let plain: [Double] = [0.5, 120]
        let t = Timestamp(microseconds: Self.base + 1_000_000)
        for values in [first, second] {
            machine.record(.metric(MetricRecord(timestamp: t, tenantID: "t", name: "latency", distribution: Self.histogram(values))), into: &events)
        }
        for v in plain { machine.record(.metric(MetricRecord(timestamp: t, tenantID: "t", name: "latency", value: v)), into: &events) }
        machine.inputFinished(into: &events)
        let windows = events.compactMap { if case .output(.window(let w)) = $0 { w } else { nil } }
        let all = first + second + plain
        #expect(windows.count == 1)
        #expect(windows.first?.count == UInt64(all.count))
        #expect(windows.first?.sum == all.reduce(0, +))
        #expect(windows.first?.min == 0.5)
        #expect(windows.first?.max == 120)
        // The median sample is 35.5; its bucket [30, 40) is placed at 35: within the bucket's width.
        #expect(abs((windows.first?.p50 ?? 0) - 35) <= 35 * 0.02)
    }

    @Test("a histogram point is kept by its windows, not stored as one raw sample")
    func notRaw() {
        let point = Record.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base), tenantID: "t", name: "latency", distribution: Self.histogram([1, 2, 3])))
        let sample = Record.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base), tenantID: "t", name: "latency", value: 2))
        let visit = Record.visit(VisitRecord(timestamp: Timestamp(microseconds: Self.base), tenantID: "t", visitorID: "v"))
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .zero))
        var events: [StageEvent] = []
        var stored: [StoredSample] = []
        // The first batch numbers the series; in the second, its samples are known.
        [point].withUnsafeBufferPointer { machine.take($0, into: &events, stored: &stored) }
        [sample, visit, point, sample].withUnsafeBufferPointer { machine.take($0, into: &events, stored: &stored) }
        // The points are skipped; the samples go as numbered samples, of the series the registry
        // holds under that number; the visit goes as itself.
        #expect(stored.map(\.series) == [StoredSample.skipped, 0, StoredSample.record, StoredSample.skipped, 0])
        #expect(machine.registry.keys == [SeriesKey(tenantID: "t", name: "latency")])
        #expect(stored[1] == StoredSample(series: 0, time: Self.base, value: 2))
        #expect(stored[4] == stored[1])
        // Taking the batch without recording gives the windows the same events.
        var plain = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .zero))
        var plainEvents: [StageEvent] = []
        [point].withUnsafeBufferPointer { plain.take($0, into: &plainEvents) }
        [sample, visit, point, sample].withUnsafeBufferPointer { plain.take($0, into: &plainEvents) }
        machine.inputFinished(into: &events)
        plain.inputFinished(into: &plainEvents)
        #expect(events == plainEvents)
        #expect(events.contains { if case .output(.window(let w)) = $0 { w.count == 8 } else { false } })
    }
}
