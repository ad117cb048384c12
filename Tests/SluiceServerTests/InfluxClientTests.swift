import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SluiceServerTesting
import SluiceTesting

/// The real InfluxDB client (PyPI `influxdb-client`, installed by `scripts/setup --tests`)
/// writes to Sluice's `/api/v2/write`, and its line protocol goes to the v1 `/write`; Sluice's
/// windows must count, sum and bound exactly what the client says it sent.
@Suite("The InfluxDB client writes to Sluice", .serialized, .timeLimit(.minutes(10)))
struct InfluxClientTests {
    static let tokens = ServeTests.tokens
    static let admin = "token-admin-0001"
    static let siteA = "token-site-a-0001"
    /// 2030-01-01T00:00:00Z: a minute all of a run's points fall in, whenever the test runs.
    static let base = 1_893_456_000

    /// Writes 40 seconds of points for two hosts with the client's `write_api`, then prints
    /// each numeric series' count, exact sum (`math.fsum`), min and max as the client sent them.
    /// `v1` posts the same points' line protocol to `/write` instead.
    static let script = #"""
        import json, math, random, sys, urllib.request
        from influxdb_client import InfluxDBClient, Point
        from influxdb_client.client.write_api import SYNCHRONOUS
        url, token, mode, precision, base, run = sys.argv[1:7]
        base = int(base)
        unit = {"ns": 10**9, "us": 10**6, "ms": 10**3, "s": 1}[precision]
        rng = random.Random(run)
        points, series, strings = [], {}, 0
        for i in range(40):
            for host in ["a", "b c,d=e"]:
                t = (base + i) * unit + (rng.randrange(unit) if unit > 1 else 0)
                usage, requests, up = rng.uniform(-100, 100), rng.randrange(-10**6, 10**6), rng.random() < 0.5
                point = (Point("cpu load").tag("host", host).tag("run", run)
                         .field("usage", usage).field("requests", requests).field("up", up)
                         .field("note", 'text, with "quotes" and \\').time(t, precision))
                points.append(point)
                strings += 1
                for field, value in [("usage", usage), ("requests", float(requests)), ("up", 1.0 if up else 0.0)]:
                    series.setdefault(("cpu load_" + field, host), []).append(value)
        if mode == "v1":
            body = "\n".join(p.to_line_protocol() for p in points).encode()
            request = urllib.request.Request(url + "/write?db=telegraf&rp=autogen&precision=" + {"ns": "n", "us": "u"}.get(precision, precision),
                                             data=body, method="POST", headers={"Authorization": "Token " + token})
            status = urllib.request.urlopen(request, timeout=120).status
        else:
            # A busy test machine may take longer than the client's default 10 s.
            with InfluxDBClient(url=url, token=token, org="my-org", enable_gzip=(mode == "gzip"), timeout=120_000) as client:
                client.write_api(write_options=SYNCHRONOUS).write(bucket="my-bucket", record=points, write_precision=precision)
            status = 204
        print(json.dumps({"status": status, "strings": strings, "series": [
            {"name": name, "tenant": "site-a", "labels": {"host": host, "run": run}, "count": len(values),
             "sum": math.fsum(values).hex(), "min": min(values).hex(), "max": max(values).hex()}
            for (name, host), values in sorted(series.items())]}))
        """#

    static let metrics: Set<String> = ["cpu load_usage", "cpu load_requests", "cpu load_up"]

    @Test("influxdb-client's write_api (gzip on and off, every precision) and its lines on the v1 /write: windows match exactly",
          arguments: [("gzip", "ns"), ("plain", "s"), ("gzip", "ms"), ("plain", "us"), ("v1", "s"), ("v1", "ns")])
    func clientWrites(_ mode: String, _ precision: String) async throws {
        let python = try TestPeer.path("python3")
        let server = try await LiveServer.start(Self.tokens)
        try await server.serving { server in
            let run = "\(mode)-\(precision)"
            let result = try await TestPeer.run(python, ["-c", Self.script, "http://127.0.0.1:\(server.bound.http!)", Self.siteA, mode, precision, "\(Self.base)", run])
            #expect(result.status == 0, "\(result.stderr)")
            let printed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)\(result.stderr)")
            #expect(printed["status"] as? Int == 204)
            let sent = ClientTotals.sent(printed["series"])
            #expect(sent.count == 6)
            let expectedCount = sent.values.map(\.count).reduce(0, +)
            let seen = try await ClientTotals.waitForWindows(server, metrics: Self.metrics, length: "1m", token: Self.admin) {
                $0.values.map(\.count).reduce(0, +) >= expectedCount
            }
            #expect(seen == sent)
            let metrics = try await server.request("GET", "/metrics")
            #expect(metrics.body.contains(#"sluice_protocol_samples_total{protocol="influx"} \#(expectedCount)"#), "\(metrics.body)")
            #expect(metrics.body.contains(#"sluice_protocol_skipped_total{protocol="influx"} \#(printed["strings"] as? Int ?? -1)"#))
        }
    }

    /// A POST with headers of the test's choosing: the status and the parsed JSON body.
    static func post(_ server: LiveServer, _ path: String, _ body: [UInt8], headers: [String: String] = [:]) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.bound.http!)\(path)")!)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.timeoutInterval = 60
        request.setValue("Token \(admin)", forHTTPHeaderField: "Authorization")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? ["unparsed": String(decoding: data, as: UTF8.self)]
        return ((response as! HTTPURLResponse).statusCode, json)
    }

    @Test("malformed bodies get 400 with InfluxDB's error and the reasons; valid lines are kept and the server keeps running")
    func malformed() async throws {
        let server = try await LiveServer.start(Self.tokens)
        try await server.serving { server in
            let t = Self.base
            let mixed = "disk used=1 \(t)\ndisk used=oops \(t + 1)\ndisk,host used=2 \(t + 2)\ndisk used=3 \(t + 3)\n"
            let (status, body) = try await Self.post(server, "/api/v2/write?org=o&bucket=b&precision=s", Array(mixed.utf8))
            #expect(status == 400)
            #expect(body["code"] as? String == "invalid")
            let message = body["message"] as? String ?? "\(body)"
            #expect(message.contains("the valid lines were written (2 samples)"), "\(message)")
            #expect(message.contains(#"2 rejected: line 2: column 11: field "used" value oops is not a float"#), "\(message)")
            #expect(message.contains(#"line 3: column 10: tag key "host" must be followed by '='"#), "\(message)")
            let kept = try await ClientTotals.waitForWindows(server, metrics: ["disk_used"], length: "1m", token: Self.admin) {
                $0.values.map(\.count).reduce(0, +) >= 2
            }
            #expect(kept.values.map(\.description) == ["count 2, sum 4.0, min 1.0, max 3.0"])

            let (v1, v1Body) = try await Self.post(server, "/write?db=x", Array("bad line\n".utf8))
            #expect(v1 == 400)
            #expect((v1Body["error"] as? String)?.contains(#"no line was written: 1 rejected: line 1: column 9: field key "line" must be followed by '='"#) == true, "\(v1Body)")

            let (precision, precisionBody) = try await Self.post(server, "/api/v2/write?bucket=b&precision=h", Array("disk used=1".utf8))
            #expect(precision == 400)
            #expect(precisionBody["message"] as? String == "precision=h is not valid: use ns, us, ms or s")

            let (gzip, gzipBody) = try await Self.post(server, "/api/v2/write?bucket=b", Array("not gzip at all".utf8), headers: ["Content-Encoding": "gzip"])
            #expect(gzip == 400)
            #expect(gzipBody["code"] as? String == "invalid", "\(gzipBody)")

            let (empty, emptyBody) = try await Self.post(server, "/api/v2/write?bucket=b", Array("# only a comment\n".utf8))
            #expect(empty == 400)
            #expect((emptyBody["message"] as? String)?.hasPrefix("writing requires points") == true)

            // A tenant token cannot write for another tenant by a tag.
            var foreign = URLRequest(url: URL(string: "http://127.0.0.1:\(server.bound.http!)/api/v2/write?bucket=b")!)
            foreign.httpMethod = "POST"
            foreign.httpBody = Data("disk,tenant_id=site-b used=1".utf8)
            foreign.setValue("Token \(Self.siteA)", forHTTPHeaderField: "Authorization")
            let (foreignData, foreignResponse) = try await URLSession.shared.data(for: foreign)
            #expect((foreignResponse as! HTTPURLResponse).statusCode == 403)
            #expect(String(decoding: foreignData, as: UTF8.self).contains(#""code":"forbidden""#))

            // Still serving: a good write is 204.
            let (good, _) = try await Self.post(server, "/api/v2/write?bucket=b&precision=s", Array("disk used=5 \(t + 4)".utf8))
            #expect(good == 204)
            let metrics = try await server.request("GET", "/metrics")
            #expect(metrics.body.contains(#"sluice_protocol_rejected_total{protocol="influx"} 3"#), "\(metrics.body)")
        }
    }
}
