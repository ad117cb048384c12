import Foundation
import Testing
import SluiceTesting

/// The anomaly detector's warm-up through restarts of the real binary: its models live in the
/// data directory beside the store.
@Suite("Anomaly detector across restarts", .serialized)
struct AnomalyRestartTests {
    /// One metric line per minute from `minute` on, steady near 120 except `spike` at 900.
    static func minutes(_ range: Range<Int>, spike: Int? = nil) -> Data {
        let base = 1_795_514_400
        let lines = range.map { i in
            let value = i == spike ? 900 : 120 + (i * 7) % 11
            return #"{"type":"metric","metric_name":"latency_ms","value":\#(value),"timestamp":\#(base + i * 60 + 5),"tenant_id":"shop"}"#
        }
        return Data((lines.joined(separator: "\n") + "\n").utf8)
    }

    static func anomalies(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(#"{"type":"anomaly""#) }
    }

    @Test("40 windows, a restart, then a spike: the restarted detector is warm and catches it; a fresh one is still warming up")
    func warmUpSurvives() async throws {
        let dir = TestFiles.temporaryDirectory()
        let first = try await SluiceBinary.run(["run", "--window", "1m", "--data-dir", "\(dir)/kept"], stdin: Self.minutes(0..<40))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Self.anomalies(first.stdout).isEmpty)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/kept/anomaly/detector.state"))

        let later = Self.minutes(40..<50, spike: 45)
        let resumed = try await SluiceBinary.run(["run", "--window", "1m", "--data-dir", "\(dir)/kept"], stdin: later)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let caught = Self.anomalies(resumed.stdout)
        #expect(caught.count == 2, "its mean and its p99, the two statistics watched: \(caught)")
        #expect(caught.allSatisfy { $0.contains(#""value":900"#) && $0.contains(#""timestamp":"2026-11-24T10:46:00Z""#) })

        let fresh = try await SluiceBinary.run(["run", "--window", "1m", "--data-dir", "\(dir)/fresh"], stdin: later)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(Self.anomalies(fresh.stdout).isEmpty, "a new series warms up for 30 windows")
    }
}
