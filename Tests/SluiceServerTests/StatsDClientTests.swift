import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// Real StatsD clients send to Sluice's StatsD listeners: PyPI `statsd` (`StatsClient` over UDP,
/// `TCPStatsClient`) and Datadog's `DogStatsd` with tags, both installed by
/// `scripts/setup --tests`. Each script keeps its own record of what it sent (a sampled-out
/// call sends nothing, so only calls that reached the socket count) and prints each series'
/// count, exact sum, min and max; Sluice's windows must show exactly that.
@Suite("StatsD clients send to Sluice", .serialized, .timeLimit(.minutes(10)))
struct StatsDClientTests {
    static let admin = "token-admin-0001"
    /// Two-second windows, so that sets (counted per smallest window) come out quickly; the
    /// listener's tenant for lines without a tenant_id tag.
    static let yaml = ServeTests.tokens + """

        pipeline:
          windows: [2s, 1m]
        ingest:
          statsd:
            tenant: site-a
        """

    /// Python's `statsd`: counters with sample rates, gauges set and changed, timers, and a set
    /// sent as one pipeline (one datagram, so one set interval). Values are quarters, so sums
    /// are exact in any order and across windows.
    static let statsdScript = #"""
        import json, math, random, sys, statsd
        host, port, transport = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        client = statsd.StatsClient(host, port) if transport == "udp" else statsd.TCPStatsClient(host, port)
        sent = []
        send = client._send
        def capture(data):
            sent.append(data)
            send(data)
        client._send = capture
        def sending(call):
            before = len(sent)
            call()
            return len(sent) > before
        rng = random.Random(transport)
        samples = {}
        def record(name, value): samples.setdefault(transport + "." + name, []).append(float(value))
        name = lambda n: transport + "." + n
        for _ in range(60):
            count, rate = rng.randrange(1, 20), rng.choice([1, 0.5, 0.25])
            if sending(lambda: client.incr(name("hits"), count, rate)): record("hits", count / rate)
        for _ in range(10):
            if sending(lambda: client.decr(name("hits"), 2)): record("hits", -2)
        value = 0.0
        for i in range(40):
            if i % 4 == 0:
                value = rng.randrange(0, 4000) / 4
                sending(lambda: client.gauge(name("queue"), value))
            else:
                delta = rng.randrange(-400, 400) / 4
                value += delta
                sending(lambda: client.gauge(name("queue"), delta, delta=True))
            record("queue", value)
        for _ in range(50):
            ms, rate = rng.randrange(0, 40000) / 4, rng.choice([1, 0.5])
            if sending(lambda: client.timing(name("latency"), ms, rate)): record("latency", float("%0.6f" % ms))
        members = ["user-%d" % rng.randrange(12) for _ in range(20)]
        with client.pipeline() as pipe:
            for m in members: pipe.set(name("users"), m)
        client.close()
        series = [{"name": n, "tenant": "site-a", "labels": {}, "count": len(v), "sum": math.fsum(v).hex(), "min": min(v).hex(), "max": max(v).hex()}
                  for n, v in sorted(samples.items())]
        distinct = float(len(set(members)))
        series.append({"name": name("users"), "tenant": "site-a", "labels": {}, "count": 1, "sum": distinct.hex(), "min": distinct.hex(), "max": distinct.hex()})
        print(json.dumps({"series": series}))
        """#

    @Test("statsd's StatsClient (UDP) and TCPStatsClient: counters, gauges, timers and sets match exactly", arguments: ["udp", "tcp"])
    func statsdClient(_ transport: String) async throws {
        let python = try TestPeer.path("python3")
        let server = try await LiveServer.start(Self.yaml, statsdUDP: transport == "udp", statsdTCP: transport == "tcp")
        try await server.serving { server in
            let port = transport == "udp" ? server.bound.statsdUDP! : server.bound.statsdTCP!
            let run = try await TestPeer.run(python, ["-c", Self.statsdScript, "127.0.0.1", "\(port)", transport])
            #expect(run.status == 0, "\(run.stderr)")
            try await Self.expectWindows(server, printed: run.stdout)
        }
    }

    /// Datadog's `DogStatsd`: every metric type with tags (a bare tag, a tenant_id tag) and
    /// sample rates; the set goes in one buffered packet.
    static let datadogScript = #"""
        import json, math, random, sys
        from datadog import DogStatsd
        client = DogStatsd(host=sys.argv[1], port=int(sys.argv[2]), disable_telemetry=True)
        sent = []
        serialize = client._serialize_metric
        def capture(*args, **kwargs):
            sent.append(args[0])
            return serialize(*args, **kwargs)
        client._serialize_metric = capture
        def sending(call):
            before = len(sent)
            call()
            return len(sent) > before
        rng = random.Random(42)
        samples = {}
        def record(name, tenant, labels, value):
            samples.setdefault((name, tenant, json.dumps(labels, sort_keys=True)), []).append(float(value))
        for _ in range(60):
            v, rate = rng.randrange(1, 9), rng.choice([1, 0.5, 0.25])
            if sending(lambda: client.increment("dd.requests", v, tags=["route:/users", "canary"], sample_rate=rate)):
                record("dd.requests", "site-a", {"route": "/users", "canary": ""}, v / rate)
        for _ in range(10):
            if sending(lambda: client.decrement("dd.requests", 3, tags=["route:/users", "canary"])):
                record("dd.requests", "site-a", {"route": "/users", "canary": ""}, -3)
        for _ in range(30):
            v = rng.randrange(0, 400) / 4
            if sending(lambda: client.gauge("dd.temperature", v, tags=["tenant_id:site-b", "room:r1"])):
                record("dd.temperature", "site-b", {"room": "r1"}, v)
        for kind, call in [("dd.size", client.histogram), ("dd.payload", client.distribution), ("dd.latency", client.timing)]:
            for _ in range(40):
                v = rng.randrange(-4000, 40000) / 4
                if sending(lambda: call(kind, v, tags=["env:prod"])):
                    record(kind, "site-a", {"env": "prod"}, v)
        members = ["visitor-%d" % rng.randrange(15) for _ in range(25)]
        with client:
            for m in members: client.set("dd.visitors", m, tags=["page:home"])
        series = [{"name": n, "tenant": t, "labels": json.loads(l), "count": len(v), "sum": math.fsum(v).hex(), "min": min(v).hex(), "max": max(v).hex()}
                  for (n, t, l), v in sorted(samples.items())]
        distinct = float(len(set(members)))
        series.append({"name": "dd.visitors", "tenant": "site-a", "labels": {"page": "home"}, "count": 1,
                       "sum": distinct.hex(), "min": distinct.hex(), "max": distinct.hex()})
        print(json.dumps({"series": series}))
        """#

    @Test("datadog's DogStatsd with tags: every type, tags as labels, tenant_id as tenant, and a set, exactly")
    func datadogClient() async throws {
        let python = try TestPeer.path("python3")
        let server = try await LiveServer.start(Self.yaml, statsdUDP: true)
        try await server.serving { server in
            let run = try await TestPeer.run(python, ["-c", Self.datadogScript, "127.0.0.1", "\(server.bound.statsdUDP!)"])
            #expect(run.status == 0, "\(run.stderr)")
            try await Self.expectWindows(server, printed: run.stdout)
        }
    }

    /// Waits until Sluice's one-minute windows hold as many samples as the client sent, then
    /// compares them series by series, and checks that UDP dropped nothing.
    static func expectWindows(_ server: LiveServer, printed: String) async throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any], "\(printed)")
        let sent = ClientTotals.sent(json["series"])
        #expect(sent.count >= 4)
        let expected = sent.values.map(\.count).reduce(0, +)
        let metrics = Set(sent.keys.map(\.name))
        // Until every sample is in a window, or the listener has dropped some (then they never will be).
        var dropped = false
        let seen = try await ClientTotals.waitForWindows(server, metrics: metrics, length: "1m", token: admin) { seen in
            if seen.values.map(\.count).reduce(0, +) >= expected { return true }
            dropped = try await server.request("GET", "/metrics").body.contains("sluice_udp_dropped_records_total")
            return dropped
        }
        #expect(!dropped, "UDP dropped records: send fewer")
        for (series, totals) in sent {
            #expect(seen[series] == totals, "\(series)")
        }
        #expect(seen.count == sent.count, "\(seen.keys)")
        let scrape = try await server.request("GET", "/metrics").body
        #expect(scrape.contains(#"sluice_protocol_samples_total{protocol="statsd"} \#(expected)"#), "\(scrape)")
        #expect(!scrape.contains("sluice_udp_dropped_records_total"), "UDP dropped records")
        #expect(!scrape.contains(#"sluice_protocol_dropped_total{protocol="statsd"}"#))
        #expect(!scrape.contains(#"sluice_protocol_rejected_total{protocol="statsd"}"#))
    }

    @Test("on shutdown the open sets are sent: a restart finds them in the store")
    func setsFlushedOnShutdown() async throws {
        let yaml = ServeTests.tokens + "\npipeline:\n  windows: [1h]\n"
        let first = try await LiveServer.start(yaml, statsdUDP: true)
        let members = (0..<300).map { "m\($0 % 120)" }
        // One datagram per 30 lines, sent over loopback: small enough that nothing is dropped.
        for chunk in stride(from: 0, to: members.count, by: 30) {
            let lines = members[chunk..<min(chunk + 30, members.count)].map { "shutdown.set:\($0)|s|#tenant_id:site-a" }.joined(separator: "\n")
            LoopbackSockets.sendUDP(port: first.bound.statsdUDP!, Array(lines.utf8))
        }
        // The members are taken once the listener counts the ten datagrams.
        await first.server.state.pipeline.counters.wait { $0.counters["protocol_requests.statsd", default: 0] >= 10 }
        try await first.stop()
        let second = try await LiveServer.start(yaml, dataDirectory: first.dataDirectory)
        try await second.serving { server in
            let seen = try await ClientTotals.windows(server, metrics: ["shutdown.set"], length: "1h", token: Self.admin)
            let distinct = Double(Set(members).count)
            #expect(seen.values.map(\.count).reduce(0, +) >= 1)
            #expect(seen.values.map(\.sum).reduce(0, +) == distinct, "\(seen)")
        }
    }
}
