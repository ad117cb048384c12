import Synchronization
import Testing
import SluiceTesting
import SluiceModel
@testable import SluicePipeline

@Suite("Anomaly detector")
struct AnomalyDetectorTests {
    static func window(_ i: Int, p99: Double, mean: Double = 100) -> WindowSummary {
        WindowSummary(span: WindowSpan(length: .minutes(1), start: Timestamp(seconds: 1_795_514_400 + Int64(i) * 60)),
                      series: SeriesKey(tenantID: "t", name: "response_time", labels: ["route": "/a"]),
                      count: 100, sum: mean * 100, min: 1, max: p99, p50: mean, p90: p99 * 0.9, p95: p99 * 0.95, p99: p99)
    }

    @Test("a spike after warm-up raises one anomaly with the expected value and a readable reason")
    func spike() {
        var machine = AnomalyDetector.StateMachine(configuration: .init())
        var found: [Anomaly] = []
        for i in 0..<200 {
            let p99 = i == 150 ? 840 : 120 + Double((i * 7) % 11) - 5
            found += machine.window(Self.window(i, p99: p99))
        }
        #expect(found.count == 1)
        let a = found.first
        #expect(a?.statistic == "p99")
        #expect(a?.value == 840)
        #expect(a.map { abs($0.expected - 120) < 5 } == true)
        #expect(a.map { $0.score >= 0.9 && $0.score <= 1 } == true)
        #expect(a?.reason.hasPrefix("p99 response_time 840 ms, expected 11") == true)
        #expect(a?.reason.hasSuffix(" ms (novelty \(AnomalyDetector.StateMachine.compact(a?.score ?? 0)))") == true, "the detector that fired, with its score")
        #expect(a?.timestamp == Self.window(150, p99: 0).span.end)
    }

    /// A store as the detector sees it: its checkpoint, and the windows and anomalies kept.
    final class MemoryStore: AnomalyDetectorPersistence, @unchecked Sendable {
        var state: [UInt8]?
        var windows: [WindowSummary] = []
        var anomalies: [Anomaly] = []
        init(state: [UInt8]? = nil) { self.state = state }
        func load() throws -> [UInt8]? { state }
        func setAside() throws -> String { state = nil; return "aside" }
        func storedWindows(from: Timestamp) throws -> [WindowSummary] { windows.filter { $0.span.start >= from } }
        func storedAnomalies(from: Timestamp) throws -> [Anomaly] { anomalies.filter { $0.timestamp >= from } }
    }

    /// Two series, a spike in one of them at window 150.
    static func series(_ i: Int) -> [WindowSummary] {
        let p99 = i == 150 ? 840 : 120 + Double((i * 7) % 11) - 5
        var other = window(i, p99: 300 + Double((i * 5) % 7))
        other.series = SeriesKey(tenantID: "t", name: "response_time", labels: ["route": "/b"])
        return [window(i, p99: p99), other]
    }

    @Test("a restart resumes the checkpoint, scores the stored windows it missed, and sends only the anomalies the store lacks",
          arguments: [false, true])
    func restart(anomalyWasStored: Bool) throws {
        var uninterrupted = AnomalyDetector.StateMachine(configuration: .init())
        var found: [Anomaly] = []
        let store = MemoryStore()
        for i in 0..<160 {
            if i == 140 { store.state = uninterrupted.encoded() }
            for w in Self.series(i) {
                let anomalies = uninterrupted.window(w)
                found += anomalies
                // Everything closed is stored; the stop came before the spike's anomaly was.
                if i >= 140 { store.windows.append(w) }
                if anomalyWasStored { store.anomalies += anomalies }
            }
        }
        #expect(found.count == 1 && found.first?.timestamp == Self.window(150, p99: 0).span.end)
        let detector = try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: store)
        #expect(detector.initial.encoded() == uninterrupted.encoded(), "the models are where the uninterrupted ones are")
        #expect(detector.pending == (anomalyWasStored ? [] : found))
        // The windows the aggregator closes again after the restart change nothing.
        var resumed = detector.initial
        for i in 150..<160 { for w in Self.series(i) { #expect(resumed.window(w).isEmpty) } }
        #expect(resumed.encoded() == uninterrupted.encoded())
    }

    @Test("with two window lengths ending together, a restart tells their anomalies apart by window length")
    func restartWithTwoWindowLengths() throws {
        // The same values in 1m windows and in 2m windows ending at the same instants.
        func windows(_ i: Int) -> [WindowSummary] {
            let short = Self.window(i, p99: i == 150 ? 840 : 120 + Double((i * 7) % 11) - 5)
            var long = short
            long.span = WindowSpan(length: .minutes(2), start: short.span.start - .minutes(1))
            return [short, long]
        }
        var uninterrupted = AnomalyDetector.StateMachine(configuration: .init())
        let store = MemoryStore()
        var found: [Anomaly] = []
        for i in 0..<160 {
            if i == 140 { store.state = uninterrupted.encoded() }
            for w in windows(i) {
                let anomalies = uninterrupted.window(w)
                found += anomalies
                if i >= 140 { store.windows.append(w) }
                // Only the 1m window's anomaly reached the store before the stop.
                store.anomalies += anomalies.filter { $0.window == .minutes(1) }
            }
        }
        #expect(found.map(\.window) == [.minutes(1), .minutes(2)])
        #expect(Set(found.map(\.timestamp)).count == 1, "both at the same instant, same series, same statistic")
        let detector = try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: store)
        #expect(detector.pending == found.filter { $0.window == .minutes(2) })
        // An anomaly stored before the window length was kept counts for either length.
        store.anomalies = found.map { var a = $0; a.window = nil; return a }.prefix(1).map { $0 }
        #expect(try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: store).pending.isEmpty)
    }

    @Test("without a checkpoint a detector starts empty; with a damaged one, it sets it aside and starts empty")
    func damagedCheckpoint() throws {
        let empty = AnomalyDetector.StateMachine(configuration: .init()).encoded()
        #expect(try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: MemoryStore()).initial.encoded() == empty)
        let reports = Mutex<[String]>([])
        let damaged = MemoryStore(state: [1, 2, 3])
        let detector = try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: damaged) { line in
            reports.withLock { $0.append(line) }
        }
        #expect(detector.initial.encoded() == empty)
        #expect(damaged.state == nil)
        let said = reports.withLock { $0 }
        #expect(said.count == 1 && said[0].contains("moved to aside"), "\(said)")
    }

    @Test("the stage checkpoints as windows close and when its input ends, each checkpoint after the anomalies it has seen, and a second run goes on from there")
    func stageCheckpoints() async throws {
        let store = MemoryStore()
        var checkpoints = 0
        func run(_ range: Range<Int>) async throws -> [Anomaly] {
            let detector = try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: store, checkpointEvery: 50)
            let input = BoundedChannel<[StageEvent]>(capacity: 4), output = BoundedChannel<[StageEvent]>(capacity: 1_000)
            async let running: Void = detector.run(input: input, output: output)
            for i in range { try await input.send(Self.series(i).map { .output(.window($0)) }) }
            input.finish()
            try await running
            output.finish()
            var anomalies: [Anomaly] = []
            for await events in output {
                for event in events {
                    switch event {
                    case .output(.anomaly(let a)): anomalies.append(a)
                    case .detectorCheckpoint(let state):
                        // What the store does with it: keep it once what came before is stored.
                        store.state = state
                        checkpoints += 1
                        let models = try AnomalyDetector.StateMachine(configuration: .init(), restoring: state)
                        #expect(models.anomalies == UInt64(anomalies.count), "every anomaly the models found is ahead of their checkpoint")
                    default: break
                    }
                }
            }
            return anomalies
        }
        #expect(try await run(0..<110).isEmpty)
        #expect(checkpoints == 5, "every 50 of the 220 windows scored, and at the end for the last 20")
        let restarted = try await run(110..<200)
        #expect(restarted.map(\.timestamp) == [Self.window(150, p99: 0).span.end], "warm, the spike is caught")
        var whole = AnomalyDetector.StateMachine(configuration: .init())
        for i in 0..<200 { for w in Self.series(i) { _ = whole.window(w) } }
        #expect(store.state == whole.encoded())
    }

    @Test("a new series warms up before it may alert")
    func warmup() {
        var machine = AnomalyDetector.StateMachine(configuration: .init())
        var found: [Anomaly] = []
        for i in 0..<30 { found += machine.window(Self.window(i, p99: i == 20 ? 5_000 : 120)) }
        #expect(found.isEmpty)
    }

    @Test("a model scores 0 during its warm-up, and after it as a model without one does")
    func modelWarmup() {
        var warming = AnomalyModel(), cold = AnomalyModel(warmup: 0)
        // A spike inside the warm-up and one after it.
        let values = (0..<100).map { i in i == 5 || i == 80 ? 50 : Double(i % 5) }
        let scores = values.map { warming.observe($0) }
        let unwarmed = values.map { cold.observe($0).score }
        #expect(AnomalyModel.defaultWarmup == 30)
        #expect(scores.prefix(30).allSatisfy { $0.score == 0 && $0.warmingUp })
        #expect(unwarmed.prefix(30).contains { $0 > 0 }, "without a warm-up, early values score")
        #expect(scores.dropFirst(30).allSatisfy { !$0.warmingUp })
        #expect(Array(scores.dropFirst(30).map(\.score)) == Array(unwarmed.dropFirst(30)))
        #expect(scores[80].score == scores.map(\.score).max())
    }

    @Test("a model's memory does not grow with the length of its series")
    func boundedMemory() {
        var a = AnomalyModel(), b = AnomalyModel()
        for i in 0..<2_000 { _ = a.observe(Double(i % 13)) }
        for i in 0..<100_000 { _ = b.observe(Double(i % 13)) }
        #expect(MemoryLayout.size(ofValue: a) == MemoryLayout.size(ofValue: b))
        #expect(a.footprint == b.footprint)
    }

    @Test("scores are deterministic and depend only on the past")
    func streaming() {
        var values: [Double] = []
        var random = SeededRandom(seed: 3)
        for i in 0..<2_000 { values.append(sin(Double(i) / 20) * 10 + Double(random.next() % 100) / 50 + (i == 1_500 ? 40 : 0)) }
        var whole = AnomalyModel(), prefix = AnomalyModel(), again = AnomalyModel()
        let all = values.map { whole.observe($0).score }
        let firstHalf = values.prefix(1_000).map { prefix.observe($0).score }
        #expect(Array(all.prefix(1_000)) == firstHalf)
        #expect(values.map { again.observe($0).score } == all)
        #expect(all.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(all[1_500] > 0.9)
    }
}

#if canImport(Glibc)
import Glibc
#endif
