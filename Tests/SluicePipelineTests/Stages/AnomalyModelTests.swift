#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import SluiceTesting
import SluiceModel
@testable import SluicePipeline

/// The three detectors of the anomaly model, each against a series made to show what it looks
/// for, and the model's checkpoint against the model that was never interrupted.
@Suite("Anomaly model: detectors and checkpoint")
struct AnomalyModelTests {
    /// A sine of `period` values, amplitude 10 around 50, with uniform noise of ±0.5.
    static func seasonal(period: Int, count: Int, seed: UInt64) -> [Double] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { i in 50 + 10 * sin(2 * Double.pi * Double(i) / Double(period)) + Double(random.next() % 1_001) / 1_000 - 0.5 }
    }

    @Test("the seasonal detector finds the period a series was made with", arguments: [24, 100, 288])
    func findsPeriod(period: Int) {
        var baseline = SeasonalBaseline()
        var mean = 0.0
        for (i, v) in Self.seasonal(period: period, count: 1_024 + 64, seed: UInt64(period)).enumerated() {
            _ = baseline.observe(v, mean: mean)
            mean = i == 0 ? v : mean + 0.003 * (v - mean)
        }
        // The autocorrelation over a finite window leans to shorter lags, by under 2%.
        #expect(abs(baseline.period - period) <= max(1, period / 50), "found \(baseline.period)")
        #expect(baseline.strength > 0.6)
    }

    @Test("noise has no period, and gets no seasonal score")
    func noPeriod() {
        var random = SeededRandom(seed: 9)
        var baseline = SeasonalBaseline()
        var readings: [SeasonalBaseline.Reading] = []
        for _ in 0..<2_000 { readings.append(baseline.observe(Double(random.next() % 1_000), mean: 500)) }
        #expect(readings.dropFirst(1_100).allSatisfy { $0.strength < SeasonalBaseline.strongPeriod })
    }

    @Test("a value from the wrong phase of its season alerts, from the seasonal detector, though it is well inside the range")
    func offSeason() {
        var values = Self.seasonal(period: 50, count: 1_600, seed: 4)
        // At a trough the series is near 40; put the crest's value there instead.
        let trough = 1_500 + 37
        values[trough] = 60
        var model = AnomalyModel()
        let assessments = values.map { model.observe($0) }
        let top = assessments.indices.dropFirst(1_100).max { assessments[$0].score < assessments[$1].score }!
        #expect(top == trough)
        #expect(assessments[trough].detector == .seasonal)
        #expect(assessments[trough].score >= AnomalyDetector.Configuration().threshold)
        #expect(abs(assessments[trough].expected - 40) < 1.5, "the prediction is the trough's value")
    }

    @Test("a level shift alerts as it happens, from the level-shift detector, and not again however long the new level lasts")
    func levelShift() {
        var random = SeededRandom(seed: 5)
        let values = (0..<1_600).map { i in (i < 1_000 ? 20.0 : 23.0) + Double(random.next() % 1_001) / 500 - 1 }
        var model = AnomalyModel()
        let assessments = values.map { model.observe($0) }
        let fired = assessments.indices.filter { assessments[$0].score >= 0.6 && assessments[$0].detector == .levelShift }
        #expect(!fired.isEmpty)
        #expect(fired.allSatisfy { (1_000..<1_012).contains($0) }, "fired at \(fired)")
        #expect(assessments[1_100...].allSatisfy { $0.score < 0.6 }, "the new level is not news")
    }

    @Test("a novel value echoing an excursion of the last 100 values scores half; the same value with no such excursion near scores in full")
    func echo() {
        // Noise in 10…11, one excursion to 30 at 400, then a value of 18 (novel: no value has
        // sat at that level after the noise's) at 450 and again at 650. The excursion is 20
        // from the mean, and 18 is 8 away: under half, so at 450 it echoes the excursion; by
        // 650 the excursion is 250 values back and the farthest of the last 100 is noise.
        var random = SeededRandom(seed: 21)
        var values = (0..<800).map { _ in 10 + Double(random.next() % 1_001) / 1_000 }
        values[400] = 30
        values[450] = 18
        values[650] = 18
        var off = AnomalyModel.Tuning.standard
        off.recentRatio = 0
        var model = AnomalyModel(), without = AnomalyModel()
        let scores = values.map { model.observe($0).score }, plain = values.map { without.observe($0, tuning: off).score }
        // 18 is 25 or more deviations from the mean, far from the near-baseline gate: only the
        // echo test can lower it.
        #expect(plain[450] > 0 && plain[650] > 0)
        #expect(scores[450] == plain[450] * AnomalyModel.Tuning.standard.nearFactor)
        #expect(scores[650] == plain[650])
        #expect(scores[400] == plain[400], "the excursion itself is new")
        #expect(zip(scores, plain).allSatisfy { $0 <= $1 }, "the test only ever lowers a score")
    }

    @Test("every score is in 0…1, and a prefix of a series scores as it does inside the whole")
    func prefix() {
        var random = SeededRandom(seed: 6)
        let values = Self.seasonal(period: 30, count: 3_000, seed: 6).enumerated().map { i, v in
            v + (i > 2_000 ? 15 : 0) + (i % 777 == 700 ? Double(random.next() % 50) : 0)
        }
        var whole = AnomalyModel()
        let all = values.map { whole.observe($0) }
        for cut in [1, 31, 1_024, 2_001] {
            var part = AnomalyModel()
            #expect(values.prefix(cut).map { part.observe($0) } == Array(all.prefix(cut)))
        }
        #expect(all.allSatisfy { $0.score >= 0 && $0.score <= 1 })
    }

    @Test("a model checkpointed anywhere scores what follows exactly as the one never checkpointed",
          arguments: [0, 1, 9, 30, 31, 500, 1_023, 1_024, 1_057, 2_500])
    func checkpoint(cut: Int) throws {
        var random = SeededRandom(seed: 7)
        let values = Self.seasonal(period: 40, count: 3_000, seed: 7).enumerated().map { i, v in
            v + (i > 1_800 ? 8 : 0) + (i % 401 == 400 ? Double(random.next() % 40) : 0)
        }
        var whole = AnomalyModel(warmup: 25), before = AnomalyModel(warmup: 25)
        let all = values.map { whole.observe($0) }
        for v in values.prefix(cut) { _ = before.observe(v) }
        var w = BinaryWriter()
        before.encode(into: &w)
        var r = BinaryReader(w.bytes)
        var after = try AnomalyModel(decoding: &r)
        try r.expectEnd("the model")
        var again = BinaryWriter()
        after.encode(into: &again)
        #expect(again.bytes == w.bytes)
        #expect(values.dropFirst(cut).map { after.observe($0) } == Array(all.dropFirst(cut)))
    }

    @Test("a checkpoint taken under longer gate spans (an earlier release's) is read, and scores on as if the model had always had today's")
    func checkpointAcrossSpans() throws {
        // A lasting shift: its level-shift score then falls value by value, so the gate holds
        // one entry per value, more than today's span allows (115 of them at the cut).
        var random = SeededRandom(seed: 11)
        let values = (0..<1_200).map { i in (i < 600 ? 10.0 : 16.0) + Double(random.next() % 1_001) / 1_000 }
        let longer = AnomalyModel.Tuning(near: 2, nearFactor: 0.5, recentRatio: AnomalyModel.Tuning.standard.recentRatio, recentSpan: 100,
                                         scale: AnomalyModel.Tuning.standard.scale, seasonalSpan: 300, shiftSpan: 300)
        var earlier = AnomalyModel(), today = AnomalyModel()
        let cut = 800
        for v in values.prefix(cut) {
            _ = earlier.observe(v, tuning: longer)
            _ = today.observe(v)
        }
        var w = BinaryWriter()
        earlier.encode(into: &w)
        var r = BinaryReader(w.bytes)
        var restored = try AnomalyModel(decoding: &r)
        try r.expectEnd("the model")
        // The entries are the scores above every later one, whatever the span, and the next
        // value drops those older than 100: from there on it is today's model.
        #expect(values.dropFirst(cut).map { restored.observe($0) } == values.dropFirst(cut).map { today.observe($0) })
    }

    @Test("a damaged model checkpoint is refused, never trusted")
    func damaged() {
        var model = AnomalyModel()
        for v in Self.seasonal(period: 20, count: 200, seed: 8) { _ = model.observe(v) }
        var w = BinaryWriter()
        model.encode(into: &w)
        for cut in [0, 1, 5, w.bytes.count / 2, w.bytes.count - 1] {
            var r = BinaryReader(Array(w.bytes.prefix(cut)))
            #expect(throws: BinaryDecodingError.self) { try AnomalyModel(decoding: &r) }
        }
        // The same state claiming one value more than its detectors have seen.
        var bad = BinaryWriter()
        bad.varint(30)
        bad.varint(201)
        bad.raw(w.bytes.dropFirst(3))
        var r = BinaryReader(bad.bytes)
        #expect(throws: BinaryDecodingError.self) { try AnomalyModel(decoding: &r) }
    }

    @Test("memory per model is bounded: a hundred thousand values hold what two thousand do")
    func bounded() {
        var a = AnomalyModel(), b = AnomalyModel()
        let values = Self.seasonal(period: 60, count: 100_000, seed: 10)
        for v in values.prefix(2_000) { _ = a.observe(v) }
        for v in values { _ = b.observe(v) }
        #expect(a.footprint == b.footprint)
        #expect(b.footprint <= 632 + 8_192 + 80)
    }
}
