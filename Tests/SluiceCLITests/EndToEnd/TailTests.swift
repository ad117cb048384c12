#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Testing
import SluiceTesting
@testable import SluiceCLI

@Suite("Tail")
struct TailTests {
    /// 2026-11-24T10:00:00Z in Unix seconds.
    static let base = 1_795_514_400.0

    /// One table row of a plain snapshot: the cells after the series name.
    static func cells(_ line: Substring) -> [String] {
        line.split(separator: " ").map(String.init)
    }

    @Test("--window picks the rolling spans and --lateness decides which records count")
    func windowsAndLateness() async throws {
        // Half a second apart over a minute, with some records behind the newest: 1.5 s behind
        // (they count) and 4 s behind (late, with --lateness 2s).
        var lines = ""
        var arrivals: [(time: Double, value: Double)] = []
        for i in 0..<120 {
            var time = Self.base + Double(i) / 2
            if i % 7 == 3 { time -= 1.5 }
            if i % 11 == 5 { time -= 4 }
            let value = Double((i * 37) % 100)
            arrivals.append((time, value))
            lines += #"{"metric_name":"lat","value":\#(value),"timestamp":\#(time)}"# + "\n"
        }
        // The oracle: a record more than 2 s behind the newest before it is late; the spans
        // end after the newest record's second and hold the records of their last 10 or 30 s.
        var newest = -Double.infinity, late = 0
        var counted: [(time: Double, value: Double)] = []
        for a in arrivals {
            if a.time < newest - 2 { late += 1; continue }
            newest = max(newest, a.time)
            counted.append(a)
        }
        let end = newest.rounded(.down) + 1
        func inside(_ span: Double) -> [Double] { counted.filter { $0.time.rounded(.down) >= end - span }.map(\.value) }
        #expect(late > 0 && counted.count > inside(30).count, "the data exercises both rules")

        let result = try await SluiceBinary.run(["tail", "--window", "10s", "--window", "30s", "--lateness", "2s"], stdin: Data(lines.utf8))
        #expect(result.status == 0)
        let last = result.stdout.components(separatedBy: "sluice tail — ").last ?? ""
        #expect(last.contains("— \(counted.count) records"))
        #expect(last.contains("late: \(late) records more than 2s behind the newest record, not counted"))
        let table = last.split(separator: "\n")
        let header = try #require(table.first { $0.hasPrefix("SERIES") })
        #expect(Self.cells(header) == ["SERIES", "WINDOW", "COUNT", "RATE/S", "MEAN", "P95", "P99"])
        let first = try #require(table.firstIndex { $0.hasPrefix("lat ") })
        let rows = [Self.cells(table[first]).dropFirst(), Self.cells(table[first + 1])[...]]
        for (row, span) in zip(rows, [10.0, 30.0]) {
            let values = inside(span)
            #expect(row.first == "\(Int(span))s")
            #expect(row.dropFirst().first == "\(values.count)")
            let mean = values.reduce(0, +) / Double(values.count)
            let shown = try #require(Double(row.dropFirst(3).first ?? ""))
            #expect(abs(shown - mean) <= 0.001 * mean, "span \(span): mean \(shown), expected \(mean)")
            let rate = try #require(Double(row.dropFirst(2).first ?? ""))
            #expect(abs(rate - Double(values.count) / span) < 0.001)
        }
        #expect(!last.contains(" 1m "), "no default span is shown when --window is given")
    }

    @Test("without --window the spans are 1m, 5m and 15m")
    func defaultSpans() async throws {
        let line = #"{"metric_name":"lat","value":3,"timestamp":"2026-11-24T10:00:00Z"}"#
        let result = try await SluiceBinary.run(["tail"], stdin: Data((line + "\n").utf8))
        let last = result.stdout.components(separatedBy: "sluice tail — ").last ?? ""
        let spans = last.split(separator: "\n").compactMap { line -> String? in
            let cells = Self.cells(line)
            return cells.first == "lat" ? cells[1] : cells.count == 6 && cells[1] == "1" ? cells[0] : nil
        }
        #expect(spans == ["1m", "5m", "15m"])
        #expect(last.contains("late: 0 records more than 5s behind the newest record"))
    }

    @Test("--window refuses a span that is not whole seconds, and --once asks for --server")
    func badSpans() async throws {
        let span = try await SluiceBinary.run(["tail", "--window", "1500ms"])
        #expect(span.status != 0)
        #expect(span.stderr.contains("--window 1500ms: rolling spans are whole seconds"))
        let once = try await SluiceBinary.run(["tail", "--once"])
        #expect(once.status != 0)
        #expect(once.stderr.contains("--once needs --server"))
    }

    @Test("a window both fetched and streamed is one row; an older or open one does not replace it")
    func feedShowsEachWindowOnce() throws {
        func window(_ end: String, count: Int, partial: Bool = false) -> [String: Any] {
            var w: [String: Any] = ["type": "window", "window": "60s", "end": end, "tenant_id": "t", "metric_name": "lat", "count": count]
            if partial { w["partial"] = true }
            return w
        }
        var feed = ServerTail.Feed()
        feed.offer(window: window("2026-11-24T10:02:00Z", count: 3))
        try feed.receive("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        #expect(feed.subscribed)
        let streamed = #"{"type":"window","window":"60s","end":"2026-11-24T10:02:00Z","tenant_id":"t","metric_name":"lat","count":3}"#
        try feed.receive("event: window\ndata: \(streamed)\n\n")
        feed.offer(window: window("2026-11-24T10:01:00Z", count: 9))
        feed.offer(window: window("2026-11-24T10:03:00Z", count: 7, partial: true))
        #expect(feed.rows.count == 1)
        #expect(feed.rows.values.first?.window["count"] as? Int == 3)
        feed.offer(window: window("2026-11-24T10:02:30.5Z", count: 5))
        #expect(feed.rows.values.first?.window["count"] as? Int == 5)
    }

    @Test("an HTTP answer is read with a length or in chunks")
    func httpAnswer() {
        let sized = HTTPAnswer(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]".utf8))
        #expect(sized?.status == 200 && sized?.body == Array("[]".utf8))
        let chunked = HTTPAnswer(Array("HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab\n\r\n2\r\ncd\r\n0\r\n\r\n".utf8))
        #expect(chunked?.status == 401 && chunked?.body == Array("ab\ncd".utf8))
        #expect(HTTPAnswer(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab".utf8)) == nil)
    }
}
