import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SluiceModel
import SluiceTesting

/// Three `sluice serve` nodes and a real `nats-server -js` (design §12): records POSTed
/// round-robin to all three while one is killed with `kill -9`; every node then answers a
/// window query with exactly what the records add up to.
@Suite("Cluster end to end", .serialized, .timeLimit(.minutes(10)))
struct ClusterEndToEndTests {
    /// One series' window, as the aggregate API gives it and as the oracle computes it.
    struct Key: Hashable, CustomStringConvertible {
        var start: String
        var tenant: String
        var metric: String
        var route: String
        var description: String { "\(tenant)/\(metric){route=\(route)}@\(start)" }
    }

    struct Totals: Equatable, CustomStringConvertible {
        var count = 0
        var sum = 0.0
        var min = Double.infinity
        var max = -Double.infinity
        var description: String { "count \(count) sum \(sum) min \(min) max \(max)" }

        mutating func add(_ value: Double) {
            count += 1
            sum += value
            min = Swift.min(min, value)
            max = Swift.max(max, value)
        }
    }

    struct Sample {
        var time: Int64
        var tenant: String
        var metric: String
        var route: String
        var value: Double

        /// Every tenth sample comes with an LLM call's token usage.
        var tokens: (request: String, model: String, prompt: Int, completion: Int)?

        var json: String {
            var line = "{\"type\":\"metric\",\"timestamp\":\(time),\"tenant_id\":\"\(tenant)\",\"metric_name\":\"\(metric)\",\"labels\":{\"route\":\"\(route)\"},\"value\":\(value)}"
            if let tokens {
                line += "\n{\"type\":\"token_usage\",\"timestamp\":\(time),\"tenant_id\":\"\(tenant)\",\"model\":\"\(tokens.model)\",\"request_id\":\"\(tokens.request)\","
                    + "\"prompt_tokens\":\(tokens.prompt),\"completion_tokens\":\(tokens.completion)}"
            }
            return line
        }
    }

    struct Usage: Hashable, CustomStringConvertible {
        var requests = 0
        var prompt = 0
        var completion = 0
        var description: String { "\(requests) requests, \(prompt)+\(completion) tokens" }
    }

    /// Samples in time order over twenty minutes ending half an hour ago, within one calendar
    /// month (the token meter's open month holds them all). Values are quarters, so every sum
    /// is exact in any order: the totals must match to the last bit.
    static func samples(count: Int) -> [Sample] {
        var random = SeededRandom(seed: 18)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var end = (Int64(Date().timeIntervalSince1970) / 60 - 30) * 60
        let monthStart = Int64(calendar.dateInterval(of: .month, for: Date(timeIntervalSince1970: Double(end)))!.start.timeIntervalSince1970)
        if end - 20 * 60 < monthStart { end = monthStart - 60 }
        let start = end - 20 * 60
        return (0..<count).map { i in
            var sample = Sample(time: start + Int64(i) * 20 * 60 / Int64(count), tenant: "tenant-\(random.next() % 12)",
                                metric: ["latency_ms", "queue_depth"][Int(random.next() % 2)], route: "/r\(random.next() % 3)",
                                value: Double(random.next() % 40_000) / 4)
            if i % 10 == 0 {
                sample.tokens = ("req-\(i)", ["gpt-4o", "claude"][Int(random.next() % 2)], Int(random.next() % 5_000), Int(random.next() % 1_000))
            }
            return sample
        }
    }

    /// The oracle for the token meter: requests and tokens per tenant and model.
    static func expectedUsage(_ samples: [Sample]) -> [String: Usage] {
        var out: [String: Usage] = [:]
        for s in samples {
            guard let t = s.tokens else { continue }
            out["\(s.tenant)/\(t.model)", default: Usage()].requests += 1
            out["\(s.tenant)/\(t.model)", default: Usage()].prompt += t.prompt
            out["\(s.tenant)/\(t.model)", default: Usage()].completion += t.completion
        }
        return out
    }

    /// This month's usage as a node answers it (`GET /api/v2/analytics/tokens`).
    static func usage(by node: ServerProcess, tenant: String? = nil) async throws -> [String: Usage] {
        let body = try await node.get("/api/v2/analytics/tokens?period=month" + (tenant.map { "&tenant=\($0)" } ?? ""))
        guard let rows = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else {
            Issue.record("tokens from port \(node.http): \(body.prefix(300))")
            return [:]
        }
        var out: [String: Usage] = [:]
        for row in rows {
            let key = "\(row["tenant_id"] as! String)/\(row["model"] as! String)"
            #expect(out[key] == nil, "\(key) answered twice")
            out[key] = Usage(requests: (row["requests"] as! NSNumber).intValue, prompt: (row["prompt_tokens"] as! NSNumber).intValue,
                             completion: (row["completion_tokens"] as! NSNumber).intValue)
        }
        return out
    }

    /// The oracle: the samples added up per series and one-minute window, by hand.
    static func expected(_ samples: [Sample]) -> [Key: Totals] {
        var out: [Key: Totals] = [:]
        let formatter = ISO8601DateFormatter()
        for s in samples {
            let key = Key(start: formatter.string(from: Date(timeIntervalSince1970: Double(s.time - s.time % 60))), tenant: s.tenant, metric: s.metric, route: s.route)
            out[key, default: Totals()].add(s.value)
        }
        return out
    }

    /// What a node answers for every one-minute window. A `503` (a partition moving between
    /// nodes) is asked again, as its `Retry-After` says, a few times.
    static func answered(by node: ServerProcess, query: String = "") async throws -> [Key: Totals] {
        var body = ""
        var windows: [[String: Any]]?
        for _ in 0..<5 {
            body = try await node.get("/api/v2/analytics/aggregate?window=1m\(query)")
            windows = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]
            if windows != nil || !body.contains("\"error\":\"partition_") { break }
        }
        guard let windows else {
            Issue.record("node on port \(node.http) answered: \(body.prefix(300))")
            return [:]
        }
        var out: [Key: Totals] = [:]
        for w in windows {
            let key = Key(start: w["start"] as! String, tenant: w["tenant_id"] as! String, metric: w["metric_name"] as! String,
                          route: (w["labels"] as! [String: String])["route"]!)
            #expect(out[key] == nil, "\(key) answered twice")
            out[key] = Totals(count: (w["count"] as! NSNumber).intValue, sum: (w["sum"] as! NSNumber).doubleValue,
                              min: (w["min"] as! NSNumber).doubleValue, max: (w["max"] as! NSNumber).doubleValue)
        }
        return out
    }

    static func differences(_ got: [Key: Totals], _ want: [Key: Totals]) -> [String] {
        var out: [String] = []
        for key in Set(got.keys).union(want.keys).sorted(by: { $0.description < $1.description }) where got[key] != want[key] {
            out.append("\(key): got \(got[key].map(\.description) ?? "nothing"), expected \(want[key].map(\.description) ?? "nothing")")
        }
        return out
    }

    static func start(_ node: String, nats: NATSServerPeer, in dir: String) throws -> ServerProcess {
        let config = """
            pipeline:
              windows: [1m]
              checkpoint_interval: 1s
            cluster:
              nats: \(nats.url)
              node_id: \(node)
              partitions: 8
              lease_ttl: 3s
            """
        try config.write(toFile: "\(dir)/\(node).yml", atomically: true, encoding: .utf8)
        return try ServerProcess(arguments: ["serve", "--config", "\(dir)/\(node).yml", "--http", "127.0.0.1:0", "--data-dir", "\(dir)/\(node)"])
    }

    /// The cluster's status as `node` reads it from NATS, once the node has joined.
    static func status(_ node: ServerProcess) async throws -> [String: Any] {
        while true {
            if let status = try? JSONSerialization.jsonObject(with: Data(try await node.get("/api/v2/cluster/status").utf8)) as? [String: Any],
               status["partitions"] != nil {
                return status
            }
            try Task.checkCancellation()
        }
    }

    /// Waits, asking again each time NATS answers, until exactly `nodes` are live and hold
    /// every partition in fair shares, and each owner has taken everything stored for it.
    static func waitUntilSettled(_ asking: ServerProcess, nodes: Set<String>) async throws -> [String: Any] {
        while true {
            let status = try await status(asking)
            let live = Set((status["nodes"] as! [[String: Any]]).map { $0["node"] as! String })
            let partitions = status["partitions"] as! [[String: Any]]
            let owners = partitions.map { $0["owner"] as? String ?? "" }
            // Balanced too: until then, partitions still move to the node with fewer.
            let shares = nodes.map { node in owners.count { $0 == node } }
            if live == nodes, partitions.allSatisfy({ ($0["caught_up"] as? Bool) == true && nodes.contains($0["owner"] as? String ?? "") }),
               shares.max()! <= (partitions.count + nodes.count - 1) / nodes.count, shares.min()! >= partitions.count / nodes.count {
                return status
            }
            try Task.checkCancellation()
        }
    }

    /// POSTs `batch` under `key` to `nodes[first]`, and on a refusal or a dropped connection to
    /// the next node, with the same key, as a client library retries.
    static func post(_ batch: [Sample], key: String, nodes: [ServerProcess?], first: Int) async throws {
        for attempt in 0..<(nodes.count * 20) {
            guard let node = nodes[(first + attempt) % nodes.count] else { continue }
            if let answer = try? await node.post(batch.map(\.json).joined(separator: "\n"), contentType: "application/x-ndjson",
                                                 headers: ["Idempotency-Key": key]) {
                if answer.status == 202 { return }
                #expect(answer.status == 503, "batch \(key): \(answer.status) \(answer.body)")
            }
            try Task.checkCancellation()
        }
        Issue.record("batch \(key) was refused by every node")
    }

    @Test("three nodes, one killed with kill -9 mid-way: every node answers every window exactly as the records add up, each record once")
    func killOneOfThree() async throws {
        let dir = TestFiles.temporaryDirectory("sluice-cluster")
        let nats = try await NATSServerPeer.start()
        defer { nats.kill() }
        var nodes: [ServerProcess?] = []
        for name in ["n1", "n2", "n3"] { nodes.append(try Self.start(name, nats: nats, in: dir)) }
        defer { for node in nodes { node?.process.terminate() } }
        _ = try await Self.waitUntilSettled(nodes[0]!, nodes: ["n1", "n2", "n3"])

        let samples = Self.samples(count: 6_000)
        let batches = stride(from: 0, to: samples.count, by: 100).map { Array(samples[$0..<min($0 + 100, samples.count)]) }
        for (i, batch) in batches.enumerated() {
            if i == batches.count / 3 {
                // Killed while a request to it may be in flight: whatever it acknowledged is in
                // the stream; what it did not, the client sends again elsewhere.
                let victim = nodes[2]!
                let all = nodes
                async let inFlight: Void = Self.post(batch, key: "batch-\(i)", nodes: all, first: 2)
                try await victim.kill9()
                nodes[2] = nil
                try await inFlight
                continue
            }
            try await Self.post(batch, key: "batch-\(i)", nodes: nodes, first: i % 3)
            if i == batches.count / 2 || i == batches.count - 1 {
                // Retried with its key on another node while its windows are open: stored once.
                try await Self.post(batch, key: "batch-\(i)", nodes: nodes, first: (i + 1) % 2)
            }
        }

        let status = try await Self.waitUntilSettled(nodes[0]!, nodes: ["n1", "n2"])
        let owners = (status["partitions"] as! [[String: Any]]).map { $0["owner"] as! String }
        #expect(!owners.contains("n3"), "n3's partitions moved to the two left")
        let expected = Self.expected(samples)
        #expect(expected.values.reduce(0) { $0 + $1.count } == samples.count)
        for (name, node) in [("n1", nodes[0]!), ("n2", nodes[1]!)] {
            let differences = Self.differences(try await Self.answered(by: node), expected)
            #expect(differences.isEmpty, "\(name): \(differences.count) windows differ: \(differences.prefix(5))")
        }
        // The token meters too: every tenant's month, from whichever node is asked.
        let usage = Self.expectedUsage(samples)
        #expect(usage.count > 12)
        for node in [nodes[0]!, nodes[1]!] {
            let answered = try await Self.usage(by: node)
            #expect(answered == usage, "tokens from port \(node.http): \(answered.filter { usage[$0.key] != $0.value }.prefix(5))")
        }
        #expect(try await Self.usage(by: nodes[0]!, tenant: "tenant-3") == usage.filter { $0.key.hasPrefix("tenant-3/") })
        // One tenant's windows come from the one partition that holds them.
        let tenant = try await Self.answered(by: nodes[1]!, query: "&tenant=tenant-7")
        #expect(Self.differences(tenant, expected.filter { $0.key.tenant == "tenant-7" }).isEmpty)

        // The killed node comes back on its data directory and takes its share again.
        nodes[2] = try Self.start("n3", nats: nats, in: dir)
        _ = try await Self.waitUntilSettled(nodes[2]!, nodes: ["n1", "n2", "n3"])
        let differences = Self.differences(try await Self.answered(by: nodes[2]!), expected)
        #expect(differences.isEmpty, "n3 after its restart: \(differences.count) windows differ: \(differences.prefix(5))")

        // The cluster's metrics: partitions held, and nothing unreadable in the stream.
        let metrics = try await nodes[0]!.get("/metrics")
        #expect(metrics.contains("sluice_cluster_partitions_owned{node=\"n1\"} "), "\(metrics.suffix(2_000))")
        #expect(metrics.contains("sluice_cluster_unreadable_messages_total{partition="), "\(metrics.suffix(2_000))")
        #expect(!metrics.split(separator: "\n").contains { $0.hasPrefix("sluice_cluster_unreadable_messages_total") && !$0.hasSuffix(" 0") })
        let cli = try await SluiceBinary.run(["cluster", "status", "--config", "\(dir)/n1.yml"])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout.contains("stream SLUICE: last sequence "), "\(cli.stdout)")
        #expect(cli.stdout.contains("3 live nodes"), "\(cli.stdout)")
        for p in 0..<8 { #expect(cli.stdout.contains("\n\(p)  "), "partition \(p) is listed: \(cli.stdout)") }
        for name in ["n1", "n2", "n3"] { #expect(cli.stdout.contains("\n\(name) "), "\(cli.stdout)") }
    }
}
