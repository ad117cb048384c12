import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SluiceConfig
import SluiceServer
import SluiceStore
import SluiceServerTesting
import SluiceTesting

@Suite("sluice serve", .serialized)
struct ServeTests {
    static let tokens = """
        auth:
          tokens:
            "token-site-a-0001": site-a
            "token-admin-0001": admin
        """

    @Test("ingest answers 202, or 400 with each bad record's number and reason; valid records are kept")
    func ingest() async throws {
        let server = try await LiveServer.start()
        // Explicit timestamps in one minute: the test must not depend on when it runs.
        let one = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"cpu","value":0.5,"tenant_id":"a","timestamp":"2030-01-01T00:00:10Z"}"#)
        #expect(one.status == 202)
        #expect(one.body == "{\"accepted\":1}\n")
        let array = try await server.request("POST", "/api/v2/analytics/metrics", body: #"[{"metric_name":"cpu","value":1,"tenant_id":"a","timestamp":"2030-01-01T00:00:20Z"},{"oops":1},{"type":"cache","hits":1,"misses":1,"size_kb":2,"timestamp":"2030-01-01T00:00:21Z"}]"#)
        #expect(array.status == 400)
        let rejected = (array.json as? [String: Any])?["rejected"] as? [[String: Any]]
        #expect((array.json as? [String: Any])?["accepted"] as? Int == 2)
        #expect(rejected?.first?["line"] as? Int == 2)
        #expect((rejected?.first?["reason"] as? String)?.contains("metric_name") == true)
        let ndjson = try await server.request("POST", "/api/v2/analytics/cache", body: "{\"hits\":1,\"misses\":2,\"size_kb\":3,\"timestamp\":\"2030-01-01T00:00:22Z\"}\n\n{\"hits\":\"x\"}\n", contentType: "application/x-ndjson")
        #expect(ndjson.status == 400)
        #expect(((ndjson.json as? [String: Any])?["rejected"] as? [[String: Any]])?.first?["line"] as? Int == 3)
        let garbage = try await server.request("POST", "/api/v2/analytics/metrics", body: "[1,")
        #expect(garbage.status == 400)
        #expect((garbage.json as? [String: Any])?["error"] as? String == "bad_request")

        let aggregate = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=a&metric=cpu")
        let windows = aggregate.json as? [[String: Any]]
        #expect(windows?.count == 1)
        #expect(windows?.first?["count"] as? Int == 2)
        #expect(windows?.first?["partial"] as? Bool == true)
        let p99 = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=a&stat=p99")
        #expect(((p99.json as? [[String: Any]])?.first)?["p99"] != nil)
        #expect(((p99.json as? [[String: Any]])?.first)?["mean"] == nil)
        try await server.stop()
    }

    @Test("bearer tokens: 401 without one, a tenant token writes and reads its own tenant only, admin reads all")
    func auth() async throws {
        let server = try await LiveServer.start(Self.tokens)
        let none = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1}"#)
        #expect(none.status == 401)
        #expect((none.json as? [String: Any])?["error"] as? String == "unauthorized")
        #expect(try await server.request("GET", "/api/v2/analytics/aggregate", token: "wrong-token-000").status == 401)

        let own = try await server.request("POST", "/api/v2/analytics/metrics", body: #"[{"metric_name":"m","value":1,"timestamp":"2030-01-01T00:00:01Z"},{"metric_name":"m","value":2,"tenant_id":"site-a","timestamp":"2030-01-01T00:00:02Z"}]"#, token: "token-site-a-0001")
        #expect(own.status == 202)
        let other = try await server.request("POST", "/api/v2/analytics/metrics", body: #"[{"metric_name":"m","value":1},{"metric_name":"m","value":2,"tenant_id":"site-b"}]"#, token: "token-site-a-0001")
        #expect(other.status == 403)

        let mine = try await server.request("GET", "/api/v2/analytics/aggregate", token: "token-site-a-0001")
        #expect((mine.json as? [[String: Any]])?.first?["tenant_id"] as? String == "site-a")
        #expect((mine.json as? [[String: Any]])?.first?["count"] as? Int == 2, "the record without a tenant took the token's; the refused batch added nothing")
        #expect(try await server.request("GET", "/api/v2/analytics/aggregate?tenant=site-b", token: "token-site-a-0001").status == 403)
        #expect(try await server.request("GET", "/api/v2/analytics/tenants/site-b/metrics", token: "token-site-a-0001").status == 403)
        #expect(try await server.request("GET", "/api/v2/analytics/aggregate?tenant=site-b", token: "token-admin-0001").status == 200)
        #expect(try await server.request("GET", "/healthz").status == 200)
        try await server.stop()
    }

    @Test("413 over the body limit, 429 with Retry-After over the tenant rate")
    func limits() async throws {
        let server = try await LiveServer.start("server:\n  max_body_bytes: 200\n  tenant_records_per_second: 3\n")
        let big = "[" + Array(repeating: #"{"metric_name":"m","value":1}"#, count: 20).joined(separator: ",") + "]"
        let tooLarge = try await server.request("POST", "/api/v2/analytics/metrics", body: big)
        #expect(tooLarge.status == 413)
        let three = "[" + Array(repeating: #"{"metric_name":"m","value":1}"#, count: 3).joined(separator: ",") + "]"
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: three).status == 202)
        // More than a second's worth is over the rate however long the first request took
        // (the bucket's refill by the wall clock is tested with a manual clock in IngestEdgeTests).
        let four = "[" + Array(repeating: #"{"metric_name":"m","value":1}"#, count: 4).joined(separator: ",") + "]"
        let limited = try await server.request("POST", "/api/v2/analytics/metrics", body: four)
        #expect(limited.status == 429)
        #expect(limited.headers["retry-after"] != nil)
        try await server.stop()
    }

    @Test("token usage with budgets; retention can be read, validated, changed and applied")
    func tokensAndRetention() async throws {
        let server = try await LiveServer.start("""
            tokens:
              pricing:
                gpt-4o: {prompt_per_million_usd: 2.5, completion_per_million_usd: 10}
              budgets:
                site-a: {monthly_tokens: 1000}
            """)
        let usage = #"[{"type":"token_usage","tenant_id":"site-a","model":"gpt-4o","prompt_tokens":400,"completion_tokens":100,"request_id":"r1"},{"type":"token_usage","tenant_id":"site-a","model":"gpt-4o","prompt_tokens":400,"completion_tokens":100,"request_id":"r1"},{"type":"token_usage","tenant_id":"site-a","model":"free","prompt_tokens":10,"completion_tokens":0,"request_id":"r2"}]"#
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: usage).status == 202)
        // The token meter's live totals change as it takes each record.
        while await server.server.state.tokenMeter.usage(tenantID: "site-a").count < 2 { await Task.yield() }
        let rows = try await server.request("GET", "/api/v2/analytics/tokens?tenant=site-a").json as? [[String: Any]] ?? []
        let gpt = rows.first { $0["model"] as? String == "gpt-4o" }
        #expect(gpt?["total_tokens"] as? Int == 500, "the repeated request id counted once")
        #expect(gpt?["cost_usd"] as? Double == 0.002)
        #expect(((gpt?["budget"] as? [String: Any])?["tokens_used_percent"] as? Double).map { abs($0 - 51) < 0.001 } == true)
        let free = rows.first { $0["model"] as? String == "free" }
        #expect(free?["cost_usd"] is NSNull)

        let retention = try await server.request("GET", "/api/v2/analytics/retention")
        #expect(((retention.json as? [String: Any])?["max_age"] as? [String: String])?["token_usage"] == "800d")
        let bad = try await server.request("PUT", "/api/v2/analytics/retention", body: #"{"max_age":{"metrik":"1d"}}"#)
        #expect(bad.status == 400)
        #expect(bad.body.contains("retention.max_age.metrik"))
        let good = try await server.request("PUT", "/api/v2/analytics/retention", body: #"{"max_age":{"metric":"7d"},"tenants":{"site-b":{"max_age":{"metric":"1d"}}}}"#)
        #expect(good.status == 200)
        #expect(try await server.request("GET", "/api/v2/analytics/retention").body.contains(#""metric":"7d""#))
        let saved = try RetentionRoutesFile.read(server.dataDirectory)
        #expect(saved.contains(#""site-b""#))
        let apply = try await server.request("POST", "/api/v2/analytics/retention/apply?dry_run=true")
        #expect(apply.status == 200)
        #expect((apply.json as? [String: Any])?["dry_run"] as? Bool == true)
        try await server.stop()
    }

    @Test("the SSE stream delivers closed windows as they are emitted, with the tenant filter applied")
    func stream() async throws {
        let server = try await LiveServer.start()
        let port = server.bound.http!
        let events = Task { () -> String in
            try await SocketClient.readUntil(port: port, request: "GET /api/v2/analytics/stream?tenant=a&types=window HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                             marker: "data:", timeout: 90)
        }
        // Once subscribed (checked, not slept on), every window closed from now on is sent.
        await server.server.state.broadcast.waitForSubscriber()
        _ = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1,"tenant_id":"b","timestamp":"2030-01-01T00:00:00Z"}"#)
        _ = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1,"tenant_id":"a","timestamp":"2030-01-01T00:00:00Z"}"#)
        _ = try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":2,"tenant_id":"a","timestamp":"2030-01-01T00:02:00Z"}"#)
        let text = try await events.value
        #expect(text.contains("event: window"))
        #expect(text.contains(#""tenant_id":"a""#))
        #expect(!text.contains(#""tenant_id":"b""#))
        try await server.stop()
    }

    @Test("TCP lines and UDP datagrams feed the same pipeline; bad lines are counted; /metrics shows it all")
    func sockets() async throws {
        let server = try await LiveServer.start(tcp: true, udp: true)
        try SocketClient.tcp(port: server.bound.tcp!, "{\"metric_name\":\"tcp\",\"value\":1}\nnot json\n{\"metric_name\":\"tcp\",\"value\":2}\n")
        try SocketClient.udp(port: server.bound.udp!, "{\"metric_name\":\"udp\",\"value\":3}\n{\"metric_name\":\"udp\",\"value\":4}\n")
        // Counted means in the aggregator's input: a query after that sees them.
        await server.server.state.pipeline.counters.wait { $0.records >= 4 && $0.errors >= 1 }
        var names: [String: Int] = [:]
        for w in try await server.request("GET", "/api/v2/analytics/aggregate").json as? [[String: Any]] ?? [] {
            names[w["metric_name"] as! String] = w["count"] as? Int
        }
        #expect(names["tcp"] == 2)
        #expect(names["udp"] == 2)
        let metrics = try await server.request("GET", "/metrics").body
        #expect(metrics.contains(#"sluice_ingest_errors_total{reason="invalid_json"} 1"#))
        #expect(metrics.contains(#"sluice_records_in_total{stage="ingest",type="metric"} 4"#))
        #expect(metrics.contains("sluice_http_requests_total"))
        #expect(try await server.request("GET", "/readyz").status == 200)
        try await server.stop()
    }

    @Test("without tokens the server refuses to listen beyond loopback, and says why")
    func loopbackOnly() throws {
        #expect {
            _ = try SluiceServer(configuration: Configuration(), options: .init(http: HostPort("0.0.0.0:0"), tcp: nil, udp: nil, dataDirectory: nil),
                                 logger: .init(label: "t"))
        } throws: { error in
            "\(error)".contains("loopback")
        }
    }

    @Test("graceful shutdown drains the pipeline and seals the store")
    func shutdown() async throws {
        let server = try await LiveServer.start()
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":1}"#).status == 202)
        try await server.stop()
        let directory = try DataDirectory(path: server.dataDirectory, create: false)
        #expect(try directory.segments().allSatisfy { $0.sealed })
        let stored = try StoreReader(directory: directory).records(StoreQuery(kinds: [.metric]))
        #expect(stored.count == 1)
    }
}

enum RetentionRoutesFile {
    static func read(_ dataDirectory: String) throws -> String {
        TestFiles.readString(dataDirectory + "/retention.json") ?? ""
    }
}

/// Plain sockets for the listener tests.
enum SocketClient {
    static func connectTCP(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { close(fd); throw ServerError("connect failed") }
        return fd
    }

    /// Sends a raw request and reads until `marker` has arrived and its line is complete.
    static func readUntil(port: Int, request: String, marker: String, timeout: Double) async throws -> String {
        let fd = try connectTCP(port: port)
        defer { close(fd) }
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        // Blocking reads with a deadline, on a thread of their own: the cooperative threads
        // stay free for the server.
        return try await offThePool {
            var text = ""
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while Date() < deadline {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1_000))) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                text += String(decoding: buffer[0..<n], as: UTF8.self)
                if let r = text.range(of: marker), text[r.upperBound...].contains("\n") { break }
            }
            return text
        }
    }

    static func tcp(port: Int, _ text: String) throws {
        try LoopbackSockets.sendTCP(port: port, Array(text.utf8))
    }

    static func udp(port: Int, _ text: String) throws {
        LoopbackSockets.sendUDP(port: port, Array(text.utf8))
    }
}
