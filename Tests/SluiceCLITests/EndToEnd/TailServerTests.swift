#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Testing
import SluiceTesting

@Suite("Tail --server", .serialized)
struct TailServerTests {
    /// POSTs `values` of the series `lat`, one per second from `minute`:00.
    static func post(_ server: ServerProcess, minute: Int, values: [Double]) async throws {
        let records = values.enumerated().map { i, v in
            #"{"metric_name":"lat","value":\#(v),"timestamp":"2026-11-24T10:\#(String(format: "%02d", minute)):\#(String(format: "%02d", i))Z"}"#
        }
        let answer = try await server.post("[" + records.joined(separator: ",") + "]", contentType: "application/json")
        #expect(answer.status / 100 == 2, "\(answer.body)")
    }

    /// The closed windows of `lat` the JSON API answers, asked again until there are `count`.
    static func closedWindows(_ server: ServerProcess, count: Int) async throws -> [[String: Any]] {
        while true {
            let body = try await server.get("/api/v2/analytics/aggregate?metric=lat")
            let all = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]) ?? []
            let closed = all.filter { $0["partial"] as? Bool != true }
            if closed.count >= count { return closed }
            try Task.checkCancellation()
        }
    }

    /// The `lat` rows of a snapshot: window, end, count, rate, mean, p95, p99.
    static func rows(_ snapshot: String) -> [[String]] {
        snapshot.split(separator: "\n").filter { $0.hasPrefix("- lat ") }.map { $0.split(separator: " ").dropFirst(2).map(String.init) }
    }

    /// Whether a shown number (four significant digits) is the API's.
    static func same(_ shown: String, _ exact: Any?) -> Bool {
        guard let shown = Double(shown), let exact = exact as? Double else { return false }
        return abs(shown - exact) <= 0.001 * abs(exact) + 0.0005
    }

    static func expectRow(_ row: [String]?, equals window: [String: Any]) {
        guard let row, row.count == 7 else { Issue.record("no lat row: \(String(describing: row))"); return }
        #expect(row[0] == "60s")
        #expect(row[1] == String((window["end"] as? String ?? "").dropFirst(11).prefix(8)))
        #expect(Double(row[2]) == window["count"] as? Double)
        for (cell, stat) in zip(row[4...], ["mean", "p95", "p99"]) {
            #expect(same(cell, window[stat]), "\(stat): shown \(cell), API \(window[stat] ?? "none")")
        }
    }

    @Test("tail --server starts with the windows closed before it connected, then follows the stream")
    func startsWithClosedWindows() async throws {
        let dir = TestFiles.temporaryDirectory()
        let server = try ServerProcess(arguments: ["serve", "--http", "127.0.0.1:0", "--data-dir", "\(dir)/data"])
        defer { server.process.terminate(); server.process.waitUntilExit() }
        // Minutes 0 and 1 close once minute 3 is seen (1m windows, 5 s lateness).
        try await Self.post(server, minute: 0, values: [12, 15, 11, 40, 13])
        try await Self.post(server, minute: 1, values: [20, 22, 90, 21])
        try await Self.post(server, minute: 3, values: [30])
        let closed = try await Self.closedWindows(server, count: 2)
        let newest = try #require(closed.max { ($0["end"] as? String ?? "") < ($1["end"] as? String ?? "") })
        #expect(newest["end"] as? String == "2026-11-24T10:02:00Z")

        // --once: the current view, then exit 0.
        let url = "http://127.0.0.1:\(server.http)"
        let once = try await SluiceBinary.run(["tail", "--server", url, "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(Self.rows(once.stdout).count == 1)
        Self.expectRow(Self.rows(once.stdout).first, equals: newest)
        #expect(!once.stdout.contains("\u{1B}["))

        // Following: the first snapshot already shows the closed window, once.
        let tail = Process()
        tail.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        tail.arguments = ["tail", "--server", url]
        let out = Pipe()
        tail.standardOutput = out
        tail.standardError = FileHandle.nullDevice
        try tail.spawn()
        defer { tail.terminate(); tail.waitUntilExit() }
        let reader = out.fileHandleForReading
        let text = try await offThePool { () throws -> String in
            var text = ""
            while text.components(separatedBy: "sluice tail — ").count < 3 {
                let chunk = reader.availableData
                if chunk.isEmpty { throw ServerProcessError(description: "tail exited: \(text)") }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        let first = text.components(separatedBy: "sluice tail — ")[1]
        #expect(Self.rows(first).count == 1)
        Self.expectRow(Self.rows(first).first, equals: newest)

        // Then the stream: minute 3 closes when minute 5 is seen, and replaces the row.
        try await Self.post(server, minute: 5, values: [1])
        let later = try await Self.closedWindows(server, count: 3)
        let minute3 = try #require(later.first { $0["end"] as? String == "2026-11-24T10:04:00Z" })
        let followed = try await offThePool { () throws -> String in
            var text = ""
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { throw ServerProcessError(description: "tail exited: \(text)") }
                text += String(decoding: chunk, as: UTF8.self)
                let snapshots = text.components(separatedBy: "sluice tail — ").dropFirst().dropLast()
                if let shown = snapshots.first(where: { Self.rows($0).first?[1] == "10:04:00" }) { return shown }
            }
        }
        #expect(Self.rows(followed).count == 1)
        Self.expectRow(Self.rows(followed).first, equals: minute3)
    }
}
