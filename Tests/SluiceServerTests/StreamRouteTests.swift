import Hummingbird
import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceServer

/// The live stream's body, driven by a manual clock: heartbeats come when time passes, not
/// when a test sleeps.
@Suite("Live stream", .timeLimit(.minutes(3)))
struct StreamRouteTests {
    /// What a response body writes, as text a test can wait on.
    struct RecordingWriter: ResponseBodyWriter {
        let text: Watched<String>

        mutating func write(_ buffer: ByteBuffer) async throws { text.update { $0 += String(buffer: buffer) } }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws { text.update { $0 += "<finished>" } }
    }

    static func window(_ i: Int) -> OutputRecord {
        .window(WindowSummary(span: WindowSpan(length: .minutes(1), start: Timestamp(seconds: 1_795_514_400 + Int64(i) * 60)),
                              series: SeriesKey(tenantID: "t", name: "m"), count: 1, sum: 1, min: 1, max: 1, p50: 1, p90: 1, p95: 1, p99: 1))
    }

    @Test("a heartbeat goes out each time the clock passes the interval, saying how many records a slow reader lost")
    func heartbeats() async throws {
        let broadcast = BroadcastSink(bufferSize: 1)
        let subscription = broadcast.subscribe(.init())
        // Three records before the body reads any: the one-record buffer keeps the newest.
        try await broadcast.write((0..<3).map { Self.window($0) })
        let clock = ManualClock()
        let text = Watched("")
        let body = StreamRoute<ManualClock>.events(subscription, heartbeat: .seconds(15), clock: clock)
        let streaming = Task { try await body.write(RecordingWriter(text: text)) }

        await text.wait { $0.contains("event: window") }
        while clock.sleeperCount == 0 { await Task.yield() }
        #expect(!text.value.contains("heartbeat"), "no heartbeat before the interval has passed")

        clock.advance(by: .seconds(15))
        await text.wait { $0.contains(": heartbeat") }
        #expect(text.value.hasSuffix(": heartbeat; 2 records dropped because this client read too slowly\n\n"))

        while clock.sleeperCount == 0 { await Task.yield() }
        clock.advance(by: .seconds(15))
        await text.wait { $0.components(separatedBy: ": heartbeat").count == 3 }
        #expect(text.value.hasSuffix(": heartbeat\n\n"), "nothing was dropped since the last one")

        broadcast.closeSubscribers()
        try await streaming.value
        #expect(text.value.hasPrefix(": sluice stream\n\n"))
        #expect(text.value.hasSuffix("<finished>"))
    }
}
