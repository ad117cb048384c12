import Testing
import SluicePipeline
import SluiceStore
import SluiceServerTesting
import SluiceTesting

/// A pipeline that stays full answers `503` with `Retry-After`, and takes nothing of the
/// refused request; every request it did take is stored once the pipeline moves again.
@Suite("A full pipeline", .serialized, .timeLimit(.minutes(5)))
struct PipelineFullTests {
    static let requests = 16

    @Test("with the store's writes held, the pipeline fills and ingest answers 503 with Retry-After; after the hold every accepted record is stored")
    func pipelineFull() async throws {
        let server = try await LiveServer.start("""
            pipeline:
              channel_capacity: 1
            store:
              flush_records: 1
            server:
              enqueue_timeout: 200ms
            """)
        let port = server.bound.http!
        // The segment writer's writes held, as a disk that stalls holds them: it takes no more
        // batches, so the aggregator (which stores each window as it closes) stops too, and
        // its input fills up to the ingest edge.
        let hold = FileFaults.arm(.hold(.write, .openSegment, under: server.dataDirectory))
        defer { FileFaults.clear(under: server.dataDirectory) }
        // A minute each: every request closes the window of the one before.
        func body(_ minute: Int) -> String {
            #"{"metric_name":"m","value":1,"tenant_id":"t","timestamp":"2030-01-01T00:\#(minute < 10 ? "0" : "")\#(minute):00Z"}"#
        }
        // The first request is taken, and its record reaches the writer, whose write waits.
        let first = try await server.request("POST", "/api/v2/analytics/metrics", body: body(0))
        #expect(first.status == 202, "\(first.body)")
        while hold.fired == 0 {
            try Task.checkCancellation()
            await Task.yield()
        }
        let connections = try (1..<Self.requests).map { minute in
            let body = body(minute)
            let connection = try Connection(port: port)
            connection.send("POST /api/v2/analytics/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body)
            return connection
        }
        // While the writes are held, some requests are refused (the rest wait their turn).
        var replies: [Int: RawReply] = [:]
        while !replies.values.contains(where: { $0.status == 503 }) {
            let pending = connections.indices.filter { replies[$0] == nil }
            let ready = try await Connection.readable(pending.map { connections[$0] }).map { pending[$0] }
            #expect(!ready.isEmpty, "no answer in 100 s")
            guard !ready.isEmpty else { break }
            for i in ready { replies[i] = try await connections[i].readToEnd() }
        }
        #expect(try await server.request("GET", "/healthz").status == 200, "other routes answer while it is full")

        hold.clear()
        var accepted = 1
        for (i, connection) in connections.enumerated() {
            let reply = if let early = replies[i] { early } else { try await connection.readToEnd() }
            switch reply.status {
            case 202:
                accepted += 1
            case 503:
                #expect(reply.header("retry-after") == "1")
                #expect(reply.json?["error"] as? String == "pipeline_full")
                #expect((reply.json?["detail"] as? String)?.contains("nothing was accepted") == true, "\(reply.body)")
            default:
                Issue.record("unexpected \(reply.status): \(reply.body)")
            }
        }
        #expect(accepted < Self.requests)
        // Room again once what was taken has gone through (to the store, and on to the sinks):
        // a retry is taken.
        let pipeline = server.server.state.pipeline
        await pipeline.progress.settled(through: pipeline.counters.snapshot.records)
        let retry = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1,"tenant_id":"t","timestamp":"2030-01-01T00:59:00Z"}"#)
        #expect(retry.status == 202)
        try await server.stop()
        let stored = try StoreReader(directory: DataDirectory(path: server.dataDirectory, create: false)).records(StoreQuery(kinds: [.metric]))
        #expect(stored.count == accepted + 1, "every accepted record is stored, and none of the refused")
    }
}
