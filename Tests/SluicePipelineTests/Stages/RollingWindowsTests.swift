import Testing
import SluiceModel
@testable import SluicePipeline

@Suite("Rolling windows")
struct RollingWindowsTests {
    static let base: Int64 = 1_795_514_400_000_000

    @Test("1m, 5m and 15m aggregates match exact computations over the same records")
    func matchesExact() {
        var rolling = RollingWindows()
        var values: [(Int64, Double)] = []
        for i in 0..<2_000 {
            let seconds = Int64(i)  // one record a second for 2,000 s
            let value = Double((i * 37) % 1_000)
            values.append((seconds, value))
            rolling.record(.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base + seconds * 1_000_000), tenantID: "t", name: "m", value: value)))
        }
        let snapshot = rolling.snapshot()
        #expect(snapshot.end == Timestamp(microseconds: Self.base + 2_000 * 1_000_000))
        for horizon in snapshot.horizons {
            let span = horizon.length.microseconds / 1_000_000
            let inside = values.filter { $0.0 >= 2_000 - span }.map(\.1).sorted()
            guard case .window(let w) = snapshot.summaries(horizon).first else { Issue.record("no summary"); continue }
            #expect(w.count == UInt64(inside.count))
            #expect(w.sum == inside.reduce(0, +))
            #expect(w.min == inside.first)
            #expect(w.max == inside.last)
            let exactP99 = inside[Int((0.99 * Double(inside.count)).rounded(.up)) - 1]
            #expect(abs(w.p99 - exactP99) <= 0.01 * exactP99)
        }
    }

    @Test("panes older than 15 minutes are dropped, and records that old are counted, not shown")
    func bounded() {
        var rolling = RollingWindows()
        rolling.record(.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base), name: "m", value: 1)))
        rolling.record(.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base + 3_600_000_000), name: "m", value: 2)))
        rolling.record(.metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base + 60_000_000), name: "m", value: 3)))
        let snapshot = rolling.snapshot()
        #expect(snapshot.tooOld == 1)
        guard case .window(let w) = snapshot.summaries(snapshot.horizons[2]).first else { Issue.record("no summary"); return }
        #expect(w.count == 1)
        #expect(w.sum == 2)
    }

    @Test("chosen spans are shown shortest first, and a record more than the lateness behind the newest is late, not added")
    func spansAndLateness() {
        var rolling = RollingWindows(horizons: [.seconds(30), .seconds(10), .seconds(10)], lateness: .seconds(2))
        func at(_ seconds: Double, _ value: Double) -> Record {
            .metric(MetricRecord(timestamp: Timestamp(microseconds: Self.base + Int64(seconds * 1_000_000)), name: "m", value: value))
        }
        rolling.record(at(0, 1))
        rolling.record(at(20, 2))
        rolling.record(at(18, 4))    // 2 s behind: still counts
        rolling.record(at(17.9, 8))  // more than 2 s behind: late
        rolling.record(at(25.5, 16))
        let snapshot = rolling.snapshot()
        #expect(snapshot.horizons.map(\.length) == [.seconds(10), .seconds(30)])
        #expect(snapshot.end == Timestamp(microseconds: Self.base + 26_000_000))
        #expect(snapshot.late == 1)
        #expect(snapshot.records == 4)
        #expect(snapshot.lateness == .seconds(2))
        // [16 s, 26 s) holds 18, 20 and 25.5; [-4 s, 26 s) holds all four counted.
        let sums = snapshot.horizons.map { horizon -> Double? in
            guard case .window(let w) = snapshot.summaries(horizon).first else { return nil }
            return w.sum
        }
        #expect(sums == [22, 23])
    }
}
