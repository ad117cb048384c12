import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SluiceServerTesting
import SluiceTesting

/// Real remote-write senders write to a live Sluice: Prometheus itself, scraping an exporter,
/// and PyPI `prometheus-remote-writer`. Sluice's windows must match each sender's own record
/// of what it sent, exactly for count, sum, min and max.
@Suite("Prometheus remote write: real senders write to Sluice", .serialized, .timeLimit(.minutes(10)))
struct RemoteWriteClientTests {
    static let admin = "token-admin-0001"
    static let siteA = "token-site-a-0001"

    /// One window's statistics, as Sluice answers them or as computed from a sender's record.
    struct Statistics: Equatable, CustomStringConvertible {
        var count = 0
        var sum = 0.0
        var min = Double.infinity
        var max = -Double.infinity

        mutating func add(_ value: Double) {
            count += 1
            sum += value
            min = Swift.min(min, value)
            max = Swift.max(max, value)
        }

        var description: String { "count \(count) sum \(sum) min \(min) max \(max)" }
    }

    /// A series and one of its windows: name, labels and window start (µs since the epoch).
    struct WindowKey: Hashable, CustomStringConvertible {
        var name: String
        var labels: [String: String]
        var start: Int64

        var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) @\(start)" }
    }

    /// Sluice's windows of `metric` (open ones included) for `tenant`, keyed by series and start.
    static func windows(_ server: LiveServer, metric: String, tenant: String, token: String) async throws -> [WindowKey: Statistics] {
        let reply = try await server.request("GET", TestPeer.query("/api/v2/analytics/aggregate", [("metric", metric), ("tenant", tenant)]), token: token)
        guard reply.status == 200, let windows = reply.json as? [[String: Any]] else {
            throw TestPeer.Failure(description: "aggregate answered \(reply.status): \(reply.body.prefix(500))")
        }
        var out: [WindowKey: Statistics] = [:]
        for w in windows {
            guard w["tenant_id"] as? String == tenant, let start = (w["start"] as? String).flatMap(Self.microseconds) else { continue }
            let key = WindowKey(name: w["metric_name"] as? String ?? "", labels: w["labels"] as? [String: String] ?? [:], start: start)
            out[key] = Statistics(count: w["count"] as? Int ?? -1, sum: (w["sum"] as? NSNumber)?.doubleValue ?? .nan,
                                  min: (w["min"] as? NSNumber)?.doubleValue ?? .nan, max: (w["max"] as? NSNumber)?.doubleValue ?? .nan)
        }
        return out
    }

    /// An RFC 3339 time as Sluice writes it, in microseconds since the epoch.
    static func microseconds(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) ?? plain.date(from: text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// A sender's samples bucketed into Sluice's tumbling windows of `length` µs.
    static func expected(_ samples: [(name: String, labels: [String: String], milliseconds: Int64, value: Double)], length: Int64) -> [WindowKey: Statistics] {
        var out: [WindowKey: Statistics] = [:]
        for s in samples {
            let micros = s.milliseconds * 1000
            let start = micros - ((micros % length) + length) % length
            out[WindowKey(name: s.name, labels: s.labels, start: start), default: Statistics()].add(s.value)
        }
        return out
    }

    /// A counter from `/metrics`, by its full name with labels.
    static func counter(_ server: LiveServer, _ series: String) async throws -> Double {
        let text = try await server.request("GET", "/metrics", token: admin).body
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? -1
        }
        return 0
    }

    /// Polls until `done` holds (each poll is a real request; the suite's time limit bounds
    /// the wait); `failed` stops it early with a reason.
    static func waitUntil(_ what: String, failed: () async throws -> String? = { nil }, _ done: () async throws -> Bool) async throws {
        while true {
            try Task.checkCancellation()
            if try await done() { return }
            if let reason = try await failed() { throw TestPeer.Failure(description: "while waiting for \(what): \(reason)") }
            await Task.yield()
        }
    }

    /// Samples Sluice dropped as late, which would never reach a window.
    static func late(_ server: LiveServer) async throws -> String? {
        let text = try await server.request("GET", "/metrics", token: admin).body
        let late = text.split(separator: "\n").filter { $0.hasPrefix("sluice_late_events_total") }
        return late.isEmpty ? nil : "Sluice dropped late samples: \(late)"
    }

    static func refusals(_ server: LiveServer) async throws -> String? {
        let refused = try await counter(server, #"sluice_protocol_refused_total{protocol="remote_write"}"#)
        let rejected = try await counter(server, #"sluice_protocol_rejected_total{protocol="remote_write"}"#)
        return refused + rejected > 0 ? "Sluice refused \(refused) requests and rejected \(rejected) samples" : nil
    }

    @Test("Prometheus scrapes an exporter and remote-writes to Sluice: Sluice's windows hold exactly what Prometheus stored")
    func prometheus() async throws {
        let length: Int64 = 2_000_000
        let server = try await LiveServer.start(ServeTests.tokens + "\npipeline:\n  windows: [2s]\n")
        let exporter = try await ScrapedExporter.start(scrapes: 8)
        let config = """
            global:
              scrape_interval: 500ms
              scrape_timeout: 400ms
            scrape_configs:
              - job_name: exporter
                static_configs:
                  - targets: ["127.0.0.1:\(exporter.port)"]
            remote_write:
              - url: http://127.0.0.1:\(server.bound.http!)/api/v1/write
                authorization:
                  credentials: \(Self.siteA)
                queue_config:
                  batch_send_deadline: 100ms
                  min_backoff: 50ms
                  max_backoff: 500ms
            """
        var prometheus: PrometheusScraper?
        do {
            prometheus = try await PrometheusScraper.start(configuration: config)
            // The exporter answers 503 after its last scrape; Prometheus then writes a staleness
            // marker for each of its three series, after their samples. Sluice counting three
            // skipped markers means every sample Prometheus scraped has reached it.
            let running = prometheus!
            let failed = { () async throws -> String? in
                guard running.process.isRunning else { return "prometheus exited with \(running.process.terminationStatus)" }
                if let late = try await Self.late(server) { return late }
                return try await Self.refusals(server)
            }
            try await Self.waitUntil("three staleness markers", failed: failed) {
                try await Self.counter(server, #"sluice_protocol_skipped_total{protocol="remote_write"}"#) >= 3
            }
            let scraped = try await prometheus!.samples(#"{__name__=~"sluice_rw_.*"}"#)
            #expect(scraped.count == 3, "\(scraped.keys)")
            var samples: [(name: String, labels: [String: String], milliseconds: Int64, value: Double)] = []
            for (labels, values) in scraped {
                #expect((1...8).contains(values.count), "\(labels): \(values.count) samples")
                var rest = labels
                let name = rest.removeValue(forKey: "__name__") ?? ""
                for (ms, value) in values { samples.append((name, rest, ms, value)) }
            }
            let expected = Self.expected(samples, length: length)
            var actual: [WindowKey: Statistics] = [:]
            try await Self.waitUntil("Sluice's windows to hold \(samples.count) samples", failed: failed) {
                actual = [:]
                for name in ["sluice_rw_requests_total", "sluice_rw_temperature"] {
                    actual.merge(try await Self.windows(server, metric: name, tenant: "site-a", token: Self.siteA)) { a, _ in a }
                }
                return actual.values.reduce(0) { $0 + $1.count } >= samples.count
            }
            #expect(actual == expected, "Sluice \(actual.sorted { $0.key.description < $1.key.description })\nPrometheus \(expected.sorted { $0.key.description < $1.key.description })")
            #expect(Set(expected.keys.map(\.labels["job"])) == ["exporter"])
        } catch {
            prometheus?.stop()
            exporter.stop()
            try? await server.stop()
            throw error
        }
        prometheus?.stop()
        exporter.stop()
        try await server.stop()
    }

    /// Sends known samples with `prometheus-remote-writer` and prints what it sent, its answer,
    /// and the answer to a request with one bad sample among good ones.
    static let writerScript = """
        import json, random, sys
        from prometheus_remote_writer import RemoteWriter
        url, token, org = sys.argv[1], sys.argv[2], sys.argv[3]
        rng = random.Random(1234)
        base = 1893456000000  # 2030-01-01T00:00:00Z, in ms
        metrics = []
        for queue in ["emails", "invoices", "reports"]:
            for shard in ["0", "1"]:
                n = rng.randrange(5, 40)
                # Four seconds of samples: none is later than Sluice's allowed lateness (5 s)
                # behind the newest, whatever order the series arrive in.
                timestamps = sorted(base + rng.randrange(0, 4000) for _ in range(n))
                # Eighths: sums are exact in any order.
                values = [rng.randrange(-8000, 8000) / 8 for _ in range(n)]
                metrics.append({"metric": {"__name__": "queue_depth", "queue": queue, "shard": shard}, "values": values, "timestamps": timestamps})
        headers = {"X-Scope-OrgID": org} if org else {}
        writer = RemoteWriter(url=url, auth={"bearer_token": token}, headers=headers, retries=0, max_series_per_request=4)
        result = writer.send(metrics)
        bad = [{"metric": {"__name__": "queue_depth", "queue": "bad"}, "values": [1.5, float("inf"), 2.5], "timestamps": [base, base + 1000, base + 2000]}]
        try:
            writer.send(bad)
            refusal = "accepted"
        except RuntimeError as e:
            refusal = str(e)
        print(json.dumps({"status": result.last_response.status_code, "requests": result.requests_sent, "samples": result.samples_sent,
                          "sent": metrics, "refusal": refusal}))
        """

    /// Runs the writer against `server`, returns what it says it sent and its refusal text.
    static func write(_ server: LiveServer, token: String, orgID: String) async throws -> (sent: [(name: String, labels: [String: String], milliseconds: Int64, value: Double)], refusal: String) {
        let python = try TestPeer.path("python3")
        let run = try await TestPeer.run(python, ["-c", Self.writerScript, "http://127.0.0.1:\(server.bound.http!)/api/v1/write", token, orgID])
        if run.stderr.contains("No module named 'prometheus_remote_writer'") {
            throw TestPeer.Failure(description: "prometheus-remote-writer is not installed: run `scripts/setup --tests` (it installs the test peers)")
        }
        #expect(run.status == 0, "\(run.stderr)")
        let out = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(out["status"] as? Int == 204)
        #expect(out["requests"] as? Int == 2)
        var sent: [(name: String, labels: [String: String], milliseconds: Int64, value: Double)] = []
        for item in out["sent"] as? [[String: Any]] ?? [] {
            var labels = item["metric"] as? [String: String] ?? [:]
            let name = labels.removeValue(forKey: "__name__") ?? ""
            let values = (item["values"] as? [NSNumber] ?? []).map(\.doubleValue)
            let times = (item["timestamps"] as? [NSNumber] ?? []).map(\.int64Value)
            for (t, v) in zip(times, values) { sent.append((name, labels, t, v)) }
        }
        #expect(sent.count == out["samples"] as? Int)
        return (sent, out["refusal"] as? String ?? "")
    }

    @Test("prometheus-remote-writer's samples land in the token's tenant, or X-Scope-OrgID's for an admin, exactly as sent; a bad sample is refused by position and the rest kept")
    func remoteWriter() async throws {
        let server = try await LiveServer.start(ServeTests.tokens + "\npipeline:\n  windows: [1s]\n")
        try await server.serving { server in
            for (token, orgID, tenant) in [(Self.siteA, "", "site-a"), (Self.admin, "site-b", "site-b")] {
                let (sent, refusal) = try await Self.write(server, token: token, orgID: orgID)
                #expect(refusal.contains("status=400"), "\(refusal)")
                #expect(refusal.contains(#"series 1 (queue_depth{queue=\"bad\"}) sample 2: value inf is not a finite number"#), "\(refusal)")
                #expect(refusal.contains("the other 2 samples were taken"), "\(refusal)")
                let bad = [("queue_depth", ["queue": "bad"], Int64(1893456000000), 1.5), ("queue_depth", ["queue": "bad"], Int64(1893456002000), 2.5)]
                let expected = Self.expected(sent + bad.map { (name: $0.0, labels: $0.1, milliseconds: $0.2, value: $0.3) }, length: 1_000_000)
                var actual: [WindowKey: Statistics] = [:]
                try await Self.waitUntil("Sluice's windows to hold \(sent.count + 2) samples", failed: { try await Self.late(server) }) {
                    actual = try await Self.windows(server, metric: "queue_depth", tenant: tenant, token: Self.admin)
                    return actual.values.reduce(0) { $0 + $1.count } >= sent.count + 2
                }
                #expect(actual == expected, "\(tenant): Sluice \(actual)\nsent \(expected)")
            }
        }
    }

    /// `POST /api/v1/write` with raw bytes and headers.
    static func post(_ server: LiveServer, _ body: [UInt8], headers: [String: String]) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.bound.http!)/api/v1/write")!)
        request.httpMethod = "POST"
        request.timeoutInterval = 120
        request.httpBody = Data(body)
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// A snappy block of literals only (format_description.txt: a length, then tag 0xF4 with a
    /// 2-byte length), so that a test can send bytes of its choosing through snappy.
    static func literalBlock(_ raw: [UInt8]) -> [UInt8] {
        var block: [UInt8] = []
        var n = raw.count
        repeat { block.append(UInt8(n & 0x7F) | (n > 0x7F ? 0x80 : 0)); n >>= 7 } while n > 0
        var start = 0
        while start < raw.count {
            let length = min(65536, raw.count - start)
            block += [0xF4, UInt8((length - 1) & 0xFF), UInt8((length - 1) >> 8)] + raw[start..<(start + length)]
            start += length
        }
        return block
    }

    /// A one-series `WriteRequest` with one sample (1.0 at the epoch), encoded by hand from
    /// remote.proto's field numbers; every part is under 128 bytes, so lengths are one byte.
    static func writeRequest(name: String, labels: [(String, String)]) -> [UInt8] {
        func field(_ number: UInt8, _ payload: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(payload.count)] + payload }
        func label(_ key: String, _ value: String) -> [UInt8] { field(1, field(1, Array(key.utf8)) + field(2, Array(value.utf8))) }
        let sample = field(2, [0x09] + withUnsafeBytes(of: (1.0).bitPattern.littleEndian, Array.init))
        return field(1, label("__name__", name) + labels.flatMap { label($0.0, $0.1) } + sample)
    }

    @Test("malformed bodies, unsupported versions and other tenants are refused with a reason; the server keeps taking writes")
    func malformed() async throws {
        let server = try await LiveServer.start(ServeTests.tokens + "\nserver:\n  max_body_bytes: 64KiB\n")
        try await server.serving { server in
            let headers = ["Authorization": "Bearer \(Self.siteA)", "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                           "X-Prometheus-Remote-Write-Version": "0.1.0"]
            // A sample whose value field is a varint (wire type 0), where a double belongs.
            let wrongType: [UInt8] = [0x0A, 0x10, 0x0A, 0x0A, 0x0A, 0x08] + Array("__name__".utf8) + [0x12, 0x02, 0x08, 0x01]
            let foreign = Self.writeRequest(name: "m", labels: [("tenant_id", "site-b")])
            let cases: [(String, [UInt8], [String: String], Int, String)] = [
                ("another tenant's X-Scope-OrgID", Self.literalBlock(Self.writeRequest(name: "m", labels: [])), headers.merging(["X-Scope-OrgID": "site-b"]) { $1 },
                 403, "X-Scope-OrgID names tenant site-b, but this token writes for site-a only"),
                ("another tenant's tenant_id label", Self.literalBlock(foreign), headers, 403, "a record names tenant site-b, but this token writes for site-a only"),
                ("not snappy", Array("hello, sluice".utf8), headers, 400, "invalid snappy at byte"),
                ("snappy of a broken protobuf", Self.literalBlock([0x0A, 0x10, 0x0A]), headers, 400, "invalid protobuf at byte 0: field 1 claims 16 bytes"),
                ("a field of the wrong type", Self.literalBlock(wrongType), headers, 400, "invalid protobuf at byte 16: field 1 (sample value) has wire type 0"),
                ("a body stating 1 MiB", [0x80, 0x80, 0x40, 0x00], headers, 400, "over the body limit of 65536 bytes"),
                ("no Content-Encoding", Self.literalBlock([]), headers.merging(["Content-Encoding": ""]) { $1 }, 415, "send Content-Encoding: snappy"),
                ("gzip", Self.literalBlock([]), headers.merging(["Content-Encoding": "gzip"]) { $1 }, 415, "(not gzip)"),
                ("remote write 2.0", Self.literalBlock([]), headers.merging(["X-Prometheus-Remote-Write-Version": "2.0.0",
                    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"]) { $1 }, 415, "remote write 1.0"),
            ]
            for (name, body, headers, status, reason) in cases {
                let reply = try await Self.post(server, body, headers: headers.filter { !$0.value.isEmpty })
                #expect(reply.status == status, "\(name): \(reply.body)")
                #expect(reply.body.contains(reason), "\(name): \(reply.body)")
            }
            #expect(try await Self.post(server, Self.literalBlock([]), headers: headers.filter { $0.key != "Authorization" }).status == 401)
            #expect(try await Self.counter(server, #"sluice_protocol_refused_total{protocol="remote_write"}"#) == Double(cases.count))
            // Still up, and still taking writes: an empty WriteRequest is taken (204).
            #expect(try await Self.post(server, Self.literalBlock([]), headers: headers).status == 204)
            #expect(try await server.request("GET", "/healthz").status == 200)
        }
    }
}
