import Foundation
import Testing
import SluiceConfig
import SluiceModel
import SluiceTesting
@testable import SluiceStore

/// Tiers roll closed windows up exactly (counts, sums, merged sketches), incrementally and
/// idempotently, and prune by their own age. The oracle is the raw samples each window was
/// built from, kept by the test.
@Suite("Downsampling tiers")
struct TiersTests {
    static let day: Int64 = 86_400
    static let t0 = Timestamp(microseconds: 1_795_478_400_000_000)  // 2026-11-24T00:00:00Z

    /// A base store of 1m windows over `minutes` minutes for two series, written as the
    /// segment writer would (in blocks, in order of window end); returns the raw samples.
    static func base(minutes: Int, samplesPerWindow: Int = 12, seed: UInt64 = 1) throws -> (DataDirectory, [String: [(minute: Int, value: Double)]]) {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-tiers"), create: true)
        var random = SeededRandom(seed: seed)
        var raw: [String: [(Int, Double)]] = [:]
        var pending: [StoredRecord] = []
        let appender = try directory.createSegment()
        for m in 0..<minutes {
            for host in ["a", "b"] {
                var sketch = DDSketch(), sum = ExactSum()
                for _ in 0..<samplesPerWindow {
                    let v = (exp(random.gaussian() * (host == "a" ? 0.3 : 1.1) + 3) * 1000).rounded() / 1000
                    sketch.add(v); sum.add(v)
                    raw[host, default: []].append((m, v))
                }
                let span = WindowSpan(length: .minutes(1), start: t0 + .minutes(Int64(m)))
                pending.append(.output(.window(WindowSummary(span: span, series: SeriesKey(tenantID: "t", name: "cpu", labels: ["host": host]), sketch: sketch, sum: sum))))
            }
            if pending.count >= 2_000 {
                try appender.append(try BlockFrame.build(pending, level: 1).bytes)
                pending.removeAll()
            }
        }
        if !pending.isEmpty { try appender.append(try BlockFrame.build(pending, level: 1).bytes) }
        _ = try appender.seal()
        return (directory, raw)
    }

    static func tiers(_ directory: DataDirectory, _ spec: [(WindowDuration, WindowDuration)] = [(.hours(1), .days(400)), (.days(1), .days(1825))]) throws -> Tiers {
        try Tiers(base: directory, windows: [.minutes(1)], configuration: spec.map { Configuration.Retention.Tier(step: $0.0, maxAge: $0.1) })
    }

    static func windows(_ directory: DataDirectory) throws -> [WindowSummary] {
        try StoreReader(directory: directory).records(StoreQuery(kinds: [.window])).compactMap { if case .output(.window(let w)) = $0 { w } else { nil } }
    }

    static func exactSum(_ values: [Double]) -> Double {
        var sum = ExactSum()
        for v in values { sum.add(v) }
        return sum.value
    }

    static func exact(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[max(1, Int((q * Double(sorted.count) - 1e-9).rounded(.up))) - 1]
    }

    @Test("three days of 1m windows fill the 1h and 1d tiers exactly; the step still open is left for later")
    func fill() throws {
        let (directory, raw) = try Self.base(minutes: 3 * 1_440 + 30)
        let tiers = try Self.tiers(directory)
        let done = try tiers.rollUp(now: Self.t0 + .days(4), level: 3)
        #expect(done.map(\.windows) == [2 * 72, 2 * 3])
        #expect(done.map(\.to) == [Self.t0 + .hours(72), Self.t0 + .days(3)])
        let hours = try Self.windows(tiers.tiers[0].directory)
        // The 72 whole hours; the 30 minutes after them are not a complete hour.
        #expect(hours.count == 144)
        #expect(try tiers.progress(of: 0) == Self.t0 + .hours(72))
        for w in hours {
            let hour = Int((w.span.start.microseconds - Self.t0.microseconds) / 3_600_000_000)
            let values = raw[w.series.labels["host"]!]!.filter { $0.minute / 60 == hour }.map(\.value)
            #expect(w.span.length == .hours(1))
            #expect(w.count == UInt64(values.count))
            // Exact: the sum of the raw samples rounded once, not a sum of rounded sums.
            #expect(w.sum == Self.exactSum(values))
            #expect(w.min == values.min() && w.max == values.max())
            #expect(abs(w.p99 - Self.exact(values, 0.99)) <= 0.01 * Self.exact(values, 0.99))
        }
        let days = try Self.windows(tiers.tiers[1].directory)
        #expect(days.count == 6)
        for w in days {
            let day = Int((w.span.start.microseconds - Self.t0.microseconds) / 86_400_000_000)
            let values = raw[w.series.labels["host"]!]!.filter { $0.minute / 1_440 == day }.map(\.value)
            #expect(w.count == UInt64(values.count))
            #expect(w.sum == Self.exactSum(values), "day \(day): rolled up from hours, still the raw samples' sum")
            for q in [0.5, 0.9, 0.99] {
                let estimate = w.sketch!.quantile(q)!
                #expect(abs(estimate - Self.exact(values, q)) <= 0.01 * Self.exact(values, q), "day \(day) q=\(q)")
            }
        }
    }

    @Test("a second run adds nothing; a run after a crash that lost the newest file writes the same windows again")
    func idempotent() throws {
        let (directory, _) = try Self.base(minutes: 2 * 1_440 + 90)
        let tiers = try Self.tiers(directory)
        _ = try tiers.rollUp(now: Self.t0 + .days(3), level: 3)
        let first = try Self.windows(tiers.tiers[0].directory)
        #expect(try tiers.rollUp(now: Self.t0 + .days(3), level: 3).allSatisfy { $0.windows == 0 })
        #expect(try Self.windows(tiers.tiers[0].directory) == first)
        // As if the process died before the rename of the newest file: it is not there.
        let newest = try #require(try tiers.tiers[0].directory.segments().last)
        try FileManager.default.removeItem(atPath: newest.path)
        _ = try tiers.rollUp(now: Self.t0 + .days(3), level: 3)
        #expect(try Self.windows(tiers.tiers[0].directory) == first)
    }

    @Test("percentiles of 30 days from the 1d tier are within 1% of the exact rank value over the raw samples")
    func thirtyDays() throws {
        let (directory, raw) = try Self.base(minutes: 30 * 1_440 + 60, samplesPerWindow: 3, seed: 7)
        let tiers = try Self.tiers(directory)
        _ = try tiers.rollUp(now: Self.t0 + .days(31), level: 3)
        let days = try Self.windows(tiers.tiers[1].directory).filter { $0.series.labels["host"] == "b" }
        #expect(days.count == 30)
        let month = WindowSummary.merging(days, span: WindowSpan(length: .days(30), start: Self.t0), series: days[0].series)
        let values = raw["b"]!.filter { $0.minute < 30 * 1_440 }.map(\.value)
        #expect(month.count == UInt64(values.count))
        for (q, estimate) in [(0.5, month.p50), (0.95, month.p95), (0.99, month.p99)] {
            #expect(abs(estimate - Self.exact(values, q)) <= 0.01 * Self.exact(values, q), "q=\(q)")
        }
    }

    @Test("each tier is pruned by its own max age; a step older than it is never rolled up")
    func prune() throws {
        let (directory, _) = try Self.base(minutes: 4 * 1_440 + 150)
        let tiers = try Self.tiers(directory, [(.hours(1), .days(2)), (.days(1), .days(10))])
        // At day 5 the 1h tier keeps two days: the first two are too old to roll up.
        _ = try tiers.rollUp(now: Self.t0 + .days(5), level: 3)
        let hours = try Self.windows(tiers.tiers[0].directory)
        #expect(hours.map(\.span.start).min() == Self.t0 + .days(3))
        // The 1d tier rolls up from the 1h tier, so it has the days the 1h tier has.
        #expect(try Self.windows(tiers.tiers[1].directory).count == 2)
        var policy = Configuration.Retention()
        policy.allowMassDelete = true
        _ = try tiers.prune(now: Self.t0 + .days(6), policy: policy)
        let kept = try Self.windows(tiers.tiers[0].directory)
        #expect(!kept.isEmpty && kept.allSatisfy { (Self.t0 + .days(6)).microseconds - $0.span.start.microseconds <= WindowDuration.days(2).microseconds })
        #expect(try Self.windows(tiers.tiers[1].directory).count == 2)
    }

    @Test("a query plan reads each tier up to its progress, then the base, without overlap")
    func plan() throws {
        let (directory, _) = try Self.base(minutes: 2 * 1_440 + 150)
        let tiers = try Self.tiers(directory)
        _ = try tiers.rollUp(now: Self.t0 + .days(3), level: 3)
        let plan = try tiers.plan(step: .days(1), from: Self.t0, to: Self.t0 + .days(3))
        #expect(plan.map(\.source.tier) == [1, 0, nil])
        #expect(plan.map(\.from) == [Self.t0, Self.t0 + .days(2), Self.t0 + .hours(50)])
        #expect(plan.map(\.to) == [Self.t0 + .days(2), Self.t0 + .hours(50), Self.t0 + .days(3)])
        // Without a range the coarsest tier starts at the beginning.
        #expect(try tiers.plan(step: .days(1), from: nil, to: nil).map(\.from) == [nil, Self.t0 + .days(2), Self.t0 + .hours(50)])
        #expect(try tiers.plan(step: .hours(1), from: nil, to: nil).map(\.source.tier) == [0, nil])
    }

    @Test("a tier whose step no shorter pipeline window divides is left out, and says why")
    func unusable() throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-tiers"), create: true)
        let tiers = try Tiers(base: directory, windows: [.days(1)], configuration: Configuration.Retention.defaultTiers)
        #expect(tiers.tiers.isEmpty)
        #expect(tiers.unusable.count == 2)
        #expect(tiers.unusable[0].contains("the 1h tier is off"))
    }
}
