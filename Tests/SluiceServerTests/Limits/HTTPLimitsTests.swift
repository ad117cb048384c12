import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// Each limit of the HTTP listener answers its status (README, "Limits").
@Suite("HTTP limits: each answers its status", .serialized, .timeLimit(.minutes(5)))
struct HTTPLimitsTests {
    static func get(_ path: String, headers: [String] = []) -> String {
        "GET \(path) HTTP/1.1\r\nHost: x\r\n" + headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n\r\n"
    }

    @Test("a request head over server.max_header_bytes is answered 431 and the connection closed; one under it is served")
    func headerBytes() async throws {
        let server = try await LiveServer.start("server:\n  max_header_bytes: 4KiB\n")
        let port = server.bound.http!
        let under = try Connection(port: port)
        under.send(Self.get("/healthz", headers: ["X-Padding: " + String(repeating: "a", count: 3_000)]))
        #expect(try await under.readToEnd().status == 200)

        for header in ["X-Padding: " + String(repeating: "a", count: 5_000),
                       // Many fields that are small each add up the same.
                       (0..<10).map { "X-Part-\($0): " + String(repeating: "b", count: 500) }.joined(separator: "\r\n")] {
            let over = try Connection(port: port)
            over.send(Self.get("/healthz", headers: [header]))
            let reply = try await over.readToEnd()
            #expect(reply.status == 431, "\(reply.head)")
            #expect(reply.json?["error"] as? String == "request_header_fields_too_large")
            #expect((reply.json?["detail"] as? String)?.contains("server.max_header_bytes") == true, "\(reply.body)")
            #expect(reply.closed)
        }
        // A long URL counts as head too.
        let url = try Connection(port: port)
        url.send(Self.get("/healthz?x=" + String(repeating: "u", count: 5_000)))
        #expect(try await url.readToEnd().status == 431)
        try await server.stop()
    }

    @Test("more header fields than server.max_headers is 431; exactly that many is served")
    func headerCount() async throws {
        let server = try await LiveServer.start("server:\n  max_headers: 20\n")
        let port = server.bound.http!
        // Host and Connection are two of the twenty.
        let exactly = try Connection(port: port)
        exactly.send(Self.get("/healthz", headers: (0..<18).map { "X-F\($0): v" }))
        #expect(try await exactly.readToEnd().status == 200)
        let over = try Connection(port: port)
        over.send(Self.get("/healthz", headers: (0..<19).map { "X-F\($0): v" }))
        let reply = try await over.readToEnd()
        #expect(reply.status == 431, "\(reply.head)")
        #expect((reply.json?["detail"] as? String)?.contains("server.max_headers (20)") == true, "\(reply.body)")
        try await server.stop()
    }

    /// Every ingest route, with what it needs to get as far as reading its body.
    static let ingestRoutes: [(path: String, headers: [String])] = [
        ("/api/v2/analytics/metrics", ["Content-Type: application/json"]),
        ("/api/v2/analytics/cache", ["Content-Type: application/x-ndjson"]),
        ("/v1/metrics", ["Content-Type: application/x-protobuf"]),
        ("/v1/traces", ["Content-Type: application/json"]),
        ("/api/v1/write", ["Content-Type: application/x-protobuf", "Content-Encoding: snappy", "X-Prometheus-Remote-Write-Version: 0.1.0"]),
        ("/api/v2/write?org=o&bucket=b&precision=s", ["Content-Type: text/plain"]),
        ("/write?db=d&precision=s", ["Content-Type: text/plain"]),
    ]

    @Test("a body over server.max_body_bytes is 413 on every ingest route, with Content-Length and chunked; nothing of it is taken")
    func bodyLimit() async throws {
        let server = try await LiveServer.start("server:\n  max_body_bytes: 1KiB\n")
        let port = server.bound.http!
        // NDJSON lines for the JSON routes, line protocol for Influx: the same size either way.
        let line = "cpu value=1 1893456000\n"
        let json = #"{"metric_name":"m","value":1,"timestamp":"2030-01-01T00:00:00Z"}"# + "\n"
        for route in Self.ingestRoutes {
            let unit = route.path.contains("write?") ? line : json
            let body = Array(String(repeating: unit, count: 1_025 / unit.utf8.count + 1).utf8)
            #expect(body.count > 1_024)
            let head = "POST \(route.path) HTTP/1.1\r\nHost: x\r\n" + route.headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n"

            let sized = try Connection(port: port)
            sized.send(head + "Content-Length: \(body.count)\r\n\r\n")
            sized.send(bytes: body)
            let reply = try await sized.readToEnd()
            #expect(reply.status == 413, "\(route.path) with Content-Length: \(reply.head) \(reply.body)")

            // No Content-Length: the limit holds as the chunks arrive.
            let chunked = try Connection(port: port)
            chunked.send(head + "Transfer-Encoding: chunked\r\n\r\n")
            for start in stride(from: 0, to: body.count, by: 300) {
                let piece = Array(body[start..<min(start + 300, body.count)])
                chunked.send(String(piece.count, radix: 16) + "\r\n")
                chunked.send(bytes: piece)
                chunked.send("\r\n")
            }
            chunked.send("0\r\n\r\n")
            let chunkedReply = try await chunked.readToEnd()
            #expect(chunkedReply.status == 413, "\(route.path) chunked: \(chunkedReply.head) \(chunkedReply.body)")
        }
        // Nothing of any of them went in.
        #expect(server.server.state.pipeline.counters.snapshot.records == 0)
        // The same body under the limit is taken.
        let small = try await server.request("POST", "/api/v2/analytics/metrics", body: json)
        #expect(small.status == 202)
        try await server.stop()
    }

    @Test("a request head that trickles in past server.request_timeout is answered 408 and closed; so is a body that trickles")
    func slowRequest() async throws {
        let server = try await LiveServer.start("server:\n  request_timeout: 1s\n  min_body_rate: 1KiB\n")
        let port = server.bound.http!
        // A keep-alive connection that finished a request and sits idle: idle_timeout's, not
        // request_timeout's, so it outlives the slow requests below.
        let idle = try Connection(port: port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await idle.readResponse().status == 200)

        let head = try Connection(port: port)
        head.send("GET /healthz HTTP/1.1\r\nHo")
        let headReply = try await head.readToEnd()
        #expect(headReply.status == 408, "\(headReply.head)")
        #expect(headReply.json?["error"] as? String == "request_timeout")
        #expect((headReply.json?["detail"] as? String)?.contains("server.request_timeout (1s)") == true, "\(headReply.body)")
        #expect(headReply.closed)

        let body = try Connection(port: port)
        body.send("POST /api/v2/analytics/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"metric_name\":")
        let bodyReply = try await body.readToEnd()
        #expect(bodyReply.status == 408, "\(bodyReply.head)")
        #expect((bodyReply.json?["detail"] as? String)?.contains("server.min_body_rate") == true, "\(bodyReply.body)")
        #expect(server.server.state.pipeline.counters.snapshot.records == 0)

        // Both slow requests ran out their time while the idle connection waited: it is open.
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try await idle.readToEnd().status == 200)
        try await server.stop()
    }
}
