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
        #expect(a?.reason.hasSuffix(" ms") == true)
        #expect(a?.timestamp == Self.window(150, p99: 0).span.end)
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
        for i in 0..<100 { _ = a.observe(Double(i % 13)) }
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
