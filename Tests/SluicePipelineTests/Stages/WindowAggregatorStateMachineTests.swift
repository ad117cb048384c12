import Testing
import SluiceModel
@testable import SluicePipeline

@Suite("Window aggregator state machine")
struct WindowAggregatorStateMachineTests {
    static let base: Int64 = 1_795_514_400_000_000  // 2026-11-24T10:00:00Z

    func metric(_ seconds: Double, _ value: Double, tenant: String? = "t", name: String = "m") -> Record {
        .metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base + Int64(seconds * 1_000_000)), tenantID: tenant, name: name, value: value))
    }

    func windows(_ events: [StageEvent]) -> [WindowSummary] {
        events.compactMap { if case .output(.window(let w)) = $0 { return w } else { return nil } }
    }

    @Test("samples of known series, taken as the stage takes them (read in place, as rows, in batches with look-ahead), make the same events as whole records",
          arguments: MixedStream.scenarios)
    func knownSamples(stream: MixedStream) {
        // Labels and names shared, as the decoder's intern table shares them.
        var labelSets: [Labels: Labels] = [:], strings: [String: String] = [:]
        var records = stream.records().map { record -> Record in
            guard case .metric(var m) = record else { return record }
            m.labels = labelSets[m.labels] ?? { labelSets[m.labels] = m.labels; return m.labels }()
            m.name = strings[m.name] ?? { strings[m.name] = m.name; return m.name }()
            m.tenantID = m.tenantID.map { t in strings[t] ?? { strings[t] = t; return t }() }
            return .metric(m)
        }
        // A histogram point now and then, in a series also sent plain: never a known sample.
        for i in stride(from: 7, to: records.count, by: 50) {
            guard case .metric(let m) = records[i] else { continue }
            var sketch = DDSketch()
            for v in [m.value, m.value * 2, m.value + 1] { sketch.add(v) }
            records[i] = .metric(MetricRecord(timestamp: m.timestamp, tenantID: m.tenantID, labels: m.labels, name: m.name,
                                              distribution: Distribution(sketch: sketch, sum: m.value * 4 + 1, bucketError: 0)))
        }
        var whole = WindowAggregator.StateMachine(configuration: stream.configuration)
        var rows = WindowAggregator.StateMachine(configuration: stream.configuration)
        var expected: [StageEvent] = [], events: [StageEvent] = []
        var known = 0
        for record in records {
            whole.record(record, into: &expected)
            if let sample = rows.knownSample(record) {
                rows.record(sample, into: &events)
                known += 1
            } else {
                rows.record(record, into: &events)
            }
        }
        whole.inputFinished(into: &expected)
        rows.inputFinished(into: &events)
        #expect(events == expected)
        #expect(rows.late == whole.late && rows.lateByWindow == whole.lateByWindow)
        // As the stage takes its batches: sizes below, at and past the look-ahead, so that windows
        // fire and series first appear in the middle of a look-ahead run.
        var batched = WindowAggregator.StateMachine(configuration: stream.configuration)
        var batchedEvents: [StageEvent] = []
        var start = 0, sizes = [1, 5, 16, 17, 40, 333].makeIterator()
        while start < records.count {
            let end = Swift.min(records.count, start + (sizes.next() ?? 1_000))
            Array(records[start..<end]).withUnsafeBufferPointer { batched.take($0, into: &batchedEvents) }
            start = end
        }
        batched.inputFinished(into: &batchedEvents)
        #expect(batchedEvents == expected)
        #expect(batched.late == whole.late && batched.lateByWindow == whole.lateByWindow)
        #expect(whole.late > 0, "the stream has late records")
        let samples = records.count { if case .metric(let m) = $0 { !m.hasDistribution } else { false } }
        #expect(known > samples / 2, "most metric samples are of series already seen: \(known) of \(samples)")
    }

    @Test("a window fires when the watermark (max event time − lateness) reaches its end, not before")
    func firesAtWatermark() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.seconds(10)], lateness: .seconds(2)))
        var events: [StageEvent] = []
        machine.record(metric(1, 1), into: &events)
        machine.record(metric(11.999, 2), into: &events)
        #expect(windows(events).isEmpty)
        machine.record(metric(12, 3), into: &events)
        let fired = windows(events)
        #expect(fired.count == 1)
        #expect(fired.first?.count == 1)
        #expect(fired.first?.span.start == Timestamp(microseconds: Self.base))
        #expect(fired.first?.span.end == Timestamp(microseconds: Self.base + 10_000_000))
    }

    @Test("windows are half-open: an event at the end belongs to the next window")
    func halfOpen() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.seconds(10)], lateness: .zero))
        var events: [StageEvent] = []
        machine.record(metric(9.999999, 1), into: &events)
        machine.record(metric(10, 2), into: &events)
        machine.inputFinished(into: &events)
        #expect(windows(events).map(\.count) == [1, 1])
        #expect(windows(events).map(\.sum) == [1, 2])
    }

    @Test("a record for a fired window is late: not added, counted per window length")
    func late() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.seconds(10), .minutes(1)], lateness: .seconds(1)))
        var events: [StageEvent] = []
        machine.record(metric(5, 1), into: &events)
        machine.record(metric(20, 1), into: &events)     // fires [0,10)
        machine.record(metric(3, 100), into: &events)    // late for 10s, fine for 1m
        machine.record(metric(70, 1), into: &events)     // fires [0,60)
        machine.record(metric(59, 100), into: &events)   // late for both: one late record
        machine.inputFinished(into: &events)
        #expect(machine.late == 2)
        #expect(machine.lateByWindow == [2, 1])
        let minute = windows(events).filter { $0.span.length == .minutes(1) && $0.span.start.microseconds == Self.base }
        #expect(minute.first?.count == 3)
        #expect(minute.first?.max == 100)
    }

    @Test("output order: window end, then length, then tenant (platform-wide first), series, labels")
    func order() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1), .seconds(30)], lateness: .zero))
        var events: [StageEvent] = []
        for (tenant, name) in [("b", "z"), ("a", "y"), (nil, "x"), ("a", "a")] as [(String?, String)] {
            machine.record(metric(10, 1, tenant: tenant, name: name), into: &events)
        }
        machine.inputFinished(into: &events)
        let keys = windows(events).map { "\($0.span.length)|\($0.span.end.microseconds - Self.base)|\($0.series.tenantID ?? "-")|\($0.series.name)" }
        #expect(keys == [
            "30s|30000000|-|x", "30s|30000000|a|a", "30s|30000000|a|y", "30s|30000000|b|z",
            "60s|60000000|-|x", "60s|60000000|a|a", "60s|60000000|a|y", "60s|60000000|b|z",
        ])
    }

    @Test("a cache window keeps the size of the latest event time, the last to arrive among equals")
    func cacheSize() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .seconds(30)))
        var events: [StageEvent] = []
        func cache(_ s: Double, hits: UInt64, misses: UInt64, size: UInt64) -> Record {
            .cache(CacheRecord(timestamp: Timestamp(microseconds: Self.base + Int64(s * 1e6)), tenantID: "t", cache: "c", hits: hits, misses: misses, sizeKB: size))
        }
        machine.record(cache(10, hits: 1, misses: 1, size: 100), into: &events)
        machine.record(cache(20, hits: 2, misses: 0, size: 200), into: &events)
        machine.record(cache(20, hits: 3, misses: 0, size: 300), into: &events)
        machine.record(cache(15, hits: 4, misses: 2, size: 150), into: &events)
        machine.inputFinished(into: &events)
        guard case .output(.cacheWindow(let w)) = events.first(where: { $0.output != nil }) else { Issue.record("no cache window"); return }
        #expect(w.hits == 10)
        #expect(w.misses == 3)
        #expect(w.sizeKB == 300)
        #expect(w.hitRatio == 10.0 / 13.0)
    }

    @Test("a performance record feeds three series labelled with its route; token records pass through in place")
    func performanceAndTokens() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .zero))
        var events: [StageEvent] = []
        let ts = Timestamp(microseconds: Self.base)
        machine.record(.performance(PerformanceRecord(timestamp: ts, tenantID: "t", labels: ["route": "/a"], responseTime: 100, dbQueryTime: 10, memoryUsage: 512)), into: &events)
        let token = TokenUsageRecord(timestamp: ts, tenantID: "t", model: "m", promptTokens: 1, completionTokens: 2, requestID: "r")
        machine.record(.tokenUsage(token), into: &events)
        #expect(events.contains(.tokenUsage(token)))
        machine.inputFinished(into: &events)
        #expect(windows(events).map(\.series.name) == ["db_query_time", "memory_usage", "response_time"])
        #expect(windows(events).allSatisfy { $0.series.labels == ["route": "/a"] })
    }

    @Test("watermarks go downstream once per second of event time, not per record")
    func watermarkEvents() {
        var machine = WindowAggregator.StateMachine(configuration: .init(windows: [.minutes(1)], lateness: .zero))
        var events: [StageEvent] = []
        for i in 0..<1_000 { machine.record(metric(Double(i) * 0.01, 1), into: &events) }
        let marks = events.filter { if case .watermark = $0 { true } else { false } }
        #expect(marks.count == 10)
    }
}

/// The order of one window's records, checked on the records themselves: whatever the order
/// the pane holds them in, they come out by tenant, name and labels, then kind.
@Suite("Window output order")
struct WindowOutputOrderTests {
    static func key(_ record: OutputRecord) -> (SeriesKey, Int) {
        switch record {
        case .window(let w): (w.series, 0)
        case .cacheWindow(let c): (SeriesKey(tenantID: c.tenantID, name: c.cache ?? "", labels: c.labels), c.cache == nil ? 1 : 2)
        case .visitsWindow(let v): (SeriesKey(tenantID: v.tenantID, name: ""), 3)
        default: (SeriesKey(tenantID: nil, name: ""), 9)
        }
    }

    @Test("metrics, caches (unnamed, named \"\", named) and visits of many tenants come out strictly in design §3 order", arguments: [1, 2, 3])
    func order(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var pane = Pane()
        var registry = SeriesRegistry()
        let tenants: [String?] = [nil, "a", "b", "a-b", "B"]
        let t = Timestamp(microseconds: 0)
        for _ in 0..<2_000 {
            let tenant = tenants[Int(random.next() % 5)]
            let labels: Labels = random.next() % 2 == 0 ? .empty : ["k": "v\(random.next() % 3)"]
            switch random.next() % 4 {
            case 0:
                let names = ["m", "a", "zz", "visits"]
                pane.addMetric(registry.id(for: SeriesKey(tenantID: tenant, name: names[Int(random.next() % 4)], labels: labels)), 1)
            case 1, 2:
                let names: [String?] = [nil, "", "redis", "m"]
                let cache = names[Int(random.next() % 4)]
                pane.addCache(CacheKey(tenantID: tenant, cache: cache, labels: labels),
                              CacheRecord(timestamp: t, tenantID: tenant, labels: labels, cache: cache, hits: 1, misses: 0, sizeKB: 1))
            default:
                pane.addVisit(VisitRecord(timestamp: t, tenantID: tenant, labels: .empty, visitorID: "v", path: nil))
            }
        }
        let out = pane.summaries(span: WindowSpan(length: .minutes(1), start: t), registry: registry)
        #expect(out.count == pane.metrics.count + pane.caches.count + pane.visits.count)
        for (l, r) in zip(out, out.dropFirst()) {
            let (lk, lkind) = Self.key(l), (rk, rkind) = Self.key(r)
            #expect(lk < rk || (lk == rk && lkind < rkind), "\(l.typeName) \(lk) before \(r.typeName) \(rk)")
        }
    }
}
