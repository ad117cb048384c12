import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceClient

/// Token usage under load: N reporters, each its own `SluiceClient` and `TokenUsageRecorder`,
/// send M token records between them, some repeating request ids another reporter sends,
/// against a running `sluice serve` (rate-limited by the driver, so that batches get 429 and are
/// retried). Once every client has shut down gracefully, Sluice's token totals must equal the
/// unique calls' totals exactly. Prints records/s, requests and retries; exits 1 on a mismatch.
@main
struct ClientLoad {
    static let usage = """
        usage: sluice-client-load --sluice URL [--reporters N] [--records M] [--duplicates F]
                                  [--tenant T] [--batch-size B] [--flush-interval-ms MS]
                                  [--settle-seconds S] [--seed S] [--json]

          --sluice URL           a running sluice serve (required)
          --reporters N          concurrent reporters, each its own client (8)
          --records M            token records sent in all, repeats included (50000)
          --duplicates F         the fraction of each reporter's records that repeat a request id
                                 another reporter sends (0.1)
          --tenant T             the tenant billed (load); use a fresh server or tenant per run
          --batch-size B         records per request (1000)
          --flush-interval-ms MS the clients' flush interval (100)
          --settle-seconds S     how long to wait for Sluice's totals to match (30)
          --seed S               the workload's seed (1)
          --json                 one JSON object instead of lines of text
        """

    struct Options {
        var sluice = ""
        var reporters = 8
        var records = 50_000
        var duplicates = 0.1
        var tenant = "load"
        var batchSize = 1000
        var flushIntervalMS = 100
        var settleSeconds = 30
        var seed: UInt64 = 1
        var json = false
    }

    static func main() async {
        let options: Options
        do {
            options = try parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("sluice-client-load: \(error)\n\n\(usage)\n".utf8))
            exit(2)
        }
        let ok = await run(options)
        exit(ok ? 0 : 1)
    }

    static func run(_ o: Options) async -> Bool {
        let workload = Workload(reporters: o.reporters, records: o.records, duplicates: o.duplicates, seed: o.seed)
        let configuration = SluiceClient.Configuration(
            url: o.sluice, tenant: o.tenant, flushInterval: .milliseconds(o.flushIntervalMS),
            batchSize: o.batchSize, bufferCapacity: o.batchSize * 10, bufferPolicy: .wait,
            retry: RetryPolicy(initialBackoff: .milliseconds(50), maxBackoff: .seconds(2)))
        let clients = (0..<o.reporters).map { _ in SluiceClient(configuration: configuration) }

        let start = ContinuousClock.now
        var recorded = ContinuousClock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in clients {
                    group.addTask { try await client.run() }
                }
                await withTaskGroup(of: Void.self) { reporters in
                    for (client, calls) in zip(clients, workload.calls) {
                        reporters.addTask {
                            let recorder = TokenUsageRecorder(client: client)
                            for call in calls {
                                await recorder.record(model: call.model, promptTokens: call.prompt, completionTokens: call.completion,
                                                      cachedTokens: call.cached, requestID: call.requestID)
                            }
                        }
                    }
                }
                recorded = ContinuousClock.now
                // Graceful shutdown: each client sends what it still holds, then returns.
                for client in clients { client.shutdown() }
                try await group.waitForAll()
            }
        } catch {
            FileHandle.standardError.write(Data("sluice-client-load: a client failed: \(error)\n".utf8))
            return false
        }
        let elapsed = start.duration(to: .now)

        struct Sums { var sent = 0, rejected = 0, dropped = 0, requests = 0, retries = 0 }
        var stats = Sums()
        for client in clients {
            let s = client.statistics
            stats.sent += s.sent
            stats.rejected += s.rejected
            stats.dropped += s.dropped
            stats.requests += s.requests
            stats.retries += s.retries
        }
        let sentRecords = workload.calls.reduce(0) { $0 + $1.count }
        let (server, settled) = await settle(o, expected: workload.expected)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let recordingSeconds = start.duration(to: recorded)
        let matches = server == workload.expected && stats.sent == sentRecords && stats.dropped == 0 && stats.rejected == 0

        let expectedTotal = workload.expected.values.reduce(into: Workload.Totals()) { $0.merge($1) }
        let serverTotal = server.values.reduce(into: Workload.Totals()) { $0.merge($1) }
        if o.json {
            let object: [String: Any] = [
                "reporters": o.reporters, "records": sentRecords, "duplicate_records": workload.duplicateRecords,
                "unique_requests": expectedTotal.requests, "seconds": seconds,
                "recording_seconds": Double(recordingSeconds.components.seconds) + Double(recordingSeconds.components.attoseconds) / 1e18,
                "records_per_second": Double(sentRecords) / seconds,
                "requests": stats.requests, "retries": stats.retries, "sent": stats.sent, "dropped": stats.dropped, "rejected": stats.rejected,
                "settle_seconds": settled, "match": matches,
                "expected": totalsJSON(expectedTotal), "server": totalsJSON(serverTotal),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("reporters \(o.reporters), records \(sentRecords) (\(workload.duplicateRecords) repeat another reporter's request id), unique requests \(expectedTotal.requests)")
            print(String(format: "delivered in %.2f s: %.0f records/s; %d requests, %d retries; sent %d, dropped %d, rejected %d",
                         seconds, Double(sentRecords) / seconds, stats.requests, stats.retries, stats.sent, stats.dropped, stats.rejected))
            print("expected per model:")
            for model in workload.expected.keys.sorted() {
                let e = workload.expected[model]!, s = server[model] ?? Workload.Totals()
                print("  \(model): requests \(e.requests) prompt \(e.prompt) completion \(e.completion) cached \(e.cached)"
                      + (e == s ? "  = sluice" : "  != sluice: requests \(s.requests) prompt \(s.prompt) completion \(s.completion) cached \(s.cached)"))
            }
            for model in server.keys.sorted() where workload.expected[model] == nil {
                print("  \(model): not sent, but sluice has \(server[model]!)")
            }
            print(matches ? String(format: "totals match exactly (%.2f s after the last client stopped)", settled) : "MISMATCH")
        }
        return matches
    }

    static func totalsJSON(_ t: Workload.Totals) -> [String: Int] {
        ["requests": t.requests, "prompt_tokens": t.prompt, "completion_tokens": t.completion, "cached_tokens": t.cached]
    }

    /// Polls Sluice's month totals until they equal `expected` or `settleSeconds` pass (the
    /// pipeline counts a record shortly after its batch is acknowledged). Returns the last
    /// totals and the seconds waited.
    static func settle(_ o: Options, expected: [String: Workload.Totals]) async -> ([String: Workload.Totals], Double) {
        let start = ContinuousClock.now
        var last: [String: Workload.Totals] = [:]
        while true {
            if let totals = try? await serverTotals(o) {
                last = totals
                if totals == expected { break }
            }
            if start.duration(to: .now) > .seconds(o.settleSeconds) { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let waited = start.duration(to: .now)
        return (last, Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18)
    }

    /// `GET /api/v2/analytics/tokens?tenant=T&period=month`, per model.
    static func serverTotals(_ o: Options) async throws -> [String: Workload.Totals] {
        let base = o.sluice.hasSuffix("/") ? String(o.sluice.dropLast()) : o.sluice
        let request = HTTPClientRequest(url: "\(base)/api/v2/analytics/tokens?tenant=\(o.tenant)&period=month")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code == 200,
              let rows = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]] else {
            throw CocoaError(.propertyListReadCorrupt)
        }
        var totals: [String: Workload.Totals] = [:]
        for row in rows {
            guard let model = row["model"] as? String else { continue }
            var t = totals[model, default: Workload.Totals()]
            t.requests += row["requests"] as? Int ?? 0
            t.prompt += row["prompt_tokens"] as? Int ?? 0
            t.completion += row["completion_tokens"] as? Int ?? 0
            t.cached += row["cached_tokens"] as? Int ?? 0
            totals[model] = t
        }
        return totals
    }

    static func parse(_ arguments: [String]) throws -> Options {
        struct UsageError: Error, CustomStringConvertible { var description: String }
        var o = Options()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw UsageError(description: "\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        func int(_ name: String, atLeast minimum: Int) throws -> Int {
            let text = try value()
            guard let n = Int(text), n >= minimum else { throw UsageError(description: "\(name) \(text): expected an integer of at least \(minimum)") }
            return n
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--sluice": o.sluice = try value()
            case "--reporters": o.reporters = try int("--reporters", atLeast: 1)
            case "--records": o.records = try int("--records", atLeast: 1)
            case "--duplicates":
                let text = try value()
                guard let f = Double(text), (0...0.5).contains(f) else { throw UsageError(description: "--duplicates \(text): expected a fraction from 0 to 0.5") }
                o.duplicates = f
            case "--tenant": o.tenant = try value()
            case "--batch-size": o.batchSize = try int("--batch-size", atLeast: 1)
            case "--flush-interval-ms": o.flushIntervalMS = try int("--flush-interval-ms", atLeast: 1)
            case "--settle-seconds": o.settleSeconds = try int("--settle-seconds", atLeast: 0)
            case "--seed": o.seed = UInt64(try int("--seed", atLeast: 0))
            case "--json": o.json = true
            case "-h", "--help":
                print(usage)
                exit(0)
            default: throw UsageError(description: "unknown argument \(arguments[i])")
            }
            i += 1
        }
        guard !o.sluice.isEmpty else { throw UsageError(description: "--sluice URL is required") }
        guard o.records >= o.reporters else { throw UsageError(description: "--records must be at least --reporters") }
        return o
    }
}

extension Workload.Totals {
    mutating func merge(_ other: Workload.Totals) {
        requests += other.requests
        prompt += other.prompt
        completion += other.completion
        cached += other.cached
    }
}
