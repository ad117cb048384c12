import Testing
import SluiceModel
@testable import SluicePipeline

/// A query asks the aggregator for its open windows and waits for the answer. An idle
/// aggregator answers the nudge at once, before the query is even waiting: that answer must
/// count, or every query waits out the whole timeout.
@Suite("Live windows", .timeLimit(.minutes(3)))
struct LiveWindowsTests {
    static func window(_ count: UInt64) -> OutputRecord {
        .window(WindowSummary(span: WindowSpan(length: .minutes(1), start: Timestamp(seconds: 1_795_514_400)), series: SeriesKey(tenantID: "t", name: "m"),
                              count: count, sum: 1, min: 1, max: 1, p50: 1, p90: 1, p95: 1, p99: 1, partial: true))
    }

    @Test("an answer published while the reader nudges is the one it gets, not the timeout's")
    func answerDuringNudge() async {
        let live = LiveWindows()
        // A timeout far beyond the suite's time limit: only the answer can end the wait.
        let answer = await live.openSummaries(nudge: { live.publish([Self.window(3)]) }, timeout: .seconds(3_600))
        #expect(answer == [Self.window(3)])
    }

    @Test("a copy published before the reader asked is not taken for a fresh answer")
    func staleCopy() async {
        let live = LiveWindows()
        live.publish([Self.window(1)])
        let answer = await live.openSummaries(nudge: { live.publish([Self.window(2)]) }, timeout: .seconds(3_600))
        #expect(answer == [Self.window(2)])
    }
}
