import CoreMetrics
import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceServerTesting
import SluiceStore
import Synchronization
import Testing
@testable import SluiceClient

/// Each recorder against a real `sluice serve`: what the host recorded is what Sluice stored,
/// exactly, and its windows add up to it.
@Suite("SluiceClient against a live serve")
struct LiveRecorderTests {
    @Test("swift-metrics counters, gauges, timers and histograms arrive exactly, from concurrent tasks")
    func metricsBackend() async throws {
        let server = try await LiveServer.start("pipeline:\n  windows: [1m]\n")
        // Timings are queued as they come, and a swift-metrics handler cannot wait: the buffer
        // holds this burst whole (a smaller one drops the oldest and counts them).
        let client = SluiceClient.live(server, capacity: 10_000)
        let factory = SluiceMetricsFactory(client: client)
        let workers = 8, perWorker = 500
        try await client.running {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        // Made per use, as Hummingbird's middleware does: the backend must hand
                        // back the same handler for the same label and dimensions.
                        for i in 0..<perWorker {
                            Counter(label: "jobs_done", dimensions: [("queue", worker % 2 == 0 ? "even" : "odd")], factory: factory).increment(by: i % 3 + 1)
                            FloatingPointCounter(label: "bytes_out", factory: factory).increment(by: 0.25)
                            Timer(label: "job_time", dimensions: [("queue", "all")], factory: factory).recordNanoseconds(Int64((worker * perWorker + i) * 1_000))
                            Recorder(label: "batch_size", factory: factory).record(Int64(i % 7))
                        }
                    }
                }
            }
            Gauge(label: "queue_depth", factory: factory).record(3)
            Gauge(label: "queue_depth", factory: factory).record(42)
        }
        #expect(client.statistics.dropped == 0 && client.statistics.rejected == 0)

        let oneWorker = (0..<perWorker).reduce(0) { $0 + $1 % 3 + 1 }
        let stored = try await server.storedRecords([.metric])
        var sums: [String: Double] = [:], counts: [String: Int] = [:], values: [String: [Double]] = [:]
        for case .metric(let m) in stored {
            let key = m.name + (m.labels["queue"].map { "/" + $0 } ?? "")
            sums[key, default: 0] += m.value
            counts[key, default: 0] += 1
            values[key, default: []].append(m.value)
            #expect(m.tenantID == "shop")
        }
        #expect(sums["jobs_done/even"] == Double(oneWorker * workers / 2))
        #expect(sums["jobs_done/odd"] == Double(oneWorker * workers / 2))
        #expect(sums["bytes_out"] == Double(workers * perWorker) * 0.25)
        // Every timing is a sample, in milliseconds.
        #expect(counts["job_time/all"] == workers * perWorker)
        #expect(values["job_time/all"]?.min() == 0 && values["job_time/all"]?.max() == Double(workers * perWorker - 1) / 1_000)
        let expectedSizes = (0..<workers).flatMap { _ in (0..<perWorker).map { Double($0 % 7) } }.sorted()
        #expect(values["batch_size"]?.sorted() == expectedSizes, "histogram samples differ: \(values["batch_size"]?.count ?? 0) stored")
        // A gauge reports its latest value.
        #expect(values["queue_depth"]?.last == 42)

        // And the windows a user queries say the same.
        let again = try await LiveServer.start("pipeline:\n  windows: [1m]\n", dataDirectory: server.dataDirectory)
        let reply = try await again.request("GET", "/api/v2/analytics/aggregate?metric=jobs_done&window=1m")
        let windows = reply.json as? [[String: Any]] ?? []
        #expect(windows.reduce(0) { $0 + (($1["sum"] as? NSNumber)?.doubleValue ?? 0) } == Double(oneWorker * workers))
        try await again.stop()
    }

    @Test("the middleware records one sample per request, with its route pattern and the database time its queries took")
    func performanceMiddleware() async throws {
        let server = try await LiveServer.start()
        let client = SluiceClient.live(server)
        let router = Router()
        router.add(middleware: SluicePerformanceMiddleware(client: client))
        router.get("items/{id}") { _, context in
            await QueryPerformanceRecorder.measure { await Task.yield() }
            return context.parameters.get("id") ?? ""
        }
        router.get("report") { _, _ in
            // Three queries, one of them in a child task: all count for this request.
            QueryPerformanceRecorder.current?.record(.milliseconds(2))
            async let child: Void = QueryPerformanceRecorder.current?.record(.milliseconds(2)) ?? ()
            await child
            QueryPerformanceRecorder.current?.record(.milliseconds(2))
            return "ok"
        }
        router.get("fails") { _, _ -> String in throw HTTPError(.conflict) }
        let app = Application(router: router)
        let requests = (0..<120).map { i in
            [("/items/\(i % 17)", "/items/{id}"), ("/report", "/report"), ("/fails", "/fails"), ("/nowhere/\(i)", "NotFound")][i % 4]
        }
        let served = Dictionary(requests.map { ($0.1, 1) }, uniquingKeysWith: +)
        try await client.running {
            try await app.test(.router) { http in
                for (path, _) in requests { _ = try await http.execute(uri: path, method: .get) }
            }
        }
        let stored = try await server.storedRecords([.performance])
        var seen: [String: Int] = [:]
        for case .performance(let p) in stored {
            let route = p.labels["route"] ?? "-"
            seen[route, default: 0] += 1
            #expect(p.tenantID == "shop")
            #expect((p.responseTime ?? -1) >= 0 && (p.memoryUsage ?? 0) > 0)
            if route == "/report" { #expect(p.dbQueryTime == 6, "three 2 ms queries, one from a child task") }
            if route == "/items/{id}" { #expect((p.dbQueryTime ?? 0) > 0) }
            if route == "/fails" || route == "NotFound" { #expect(p.dbQueryTime == 0) }
        }
        #expect(seen == served)
    }

    @Test("cache hits, misses and size per cache, counted from concurrent tasks, add up exactly")
    func cacheStats() async throws {
        let server = try await LiveServer.start()
        let client = SluiceClient.live(server)
        let caches = CacheStatsRecorder(client: client)
        try await client.running {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for i in 0..<2_000 {
                            if (i + worker) % 3 == 0 { caches.miss("items") } else { caches.hit("items") }
                            if i % 10 == 0 { caches.hit("sessions", count: 2) }
                        }
                    }
                }
            }
            caches.setSize("items", bytes: 10_000)
        }
        var totals: [String: (hits: UInt64, misses: UInt64, size: UInt64)] = [:]
        for case .cache(let c) in try await server.storedRecords([.cache]) {
            let name = c.cache ?? "-"
            let seen = totals[name] ?? (0, 0, 0)
            totals[name] = (seen.hits + c.hits, seen.misses + c.misses, c.sizeKB)
        }
        let misses = (0..<4).reduce(0) { sum, worker in sum + (0..<2_000).filter { ($0 + worker) % 3 == 0 }.count }
        #expect(totals["items"]?.misses == UInt64(misses))
        #expect(totals["items"]?.hits == UInt64(8_000 - misses))
        #expect(totals["items"]?.size == 10, "10,000 bytes is 10 KB, rounded up")
        #expect(totals["sessions"]?.hits == 4 * 200 * 2)
    }

    @Test("token usage is counted once per request id, through repeats and retried batches whose answers were lost")
    func tokenUsage() async throws {
        let server = try await LiveServer.start()
        // Every third answer is lost after the server took the batch: the client must retry it,
        // with its key, and the server must not count it twice.
        let transport = LosingTransport(HTTPTransport(url: server.url, token: nil))
        let client = SluiceClient.live(server, tenant: "acme", batchSize: 50, transport: transport)
        let tokens = TokenUsageRecorder(client: client)
        var expected = (requests: 0, prompt: 0, completion: 0)
        try await client.running {
            for i in 0..<600 {
                // One call in five repeats an earlier request id, as a retrying host would.
                let id = i % 5 == 4 ? "call-\(i - 1)" : "call-\(i)"
                let (prompt, completion) = i % 5 == 4 ? (((i - 1) % 40) + 1, (i - 1) % 90) : ((i % 40) + 1, i % 90)
                await tokens.record(model: i % 2 == 0 ? "small" : "large", promptTokens: prompt, completionTokens: completion, requestID: id)
                // Records without a request id of their own rely on the batch's key alone.
                await client.record(.metric(MetricRecord(timestamp: .now(), tenantID: "acme", name: "calls", value: 1)))
                if i % 5 != 4 {
                    expected.requests += 1
                    expected.prompt += prompt
                    expected.completion += completion
                }
            }
        }
        #expect(client.statistics.retries > 0, "answers were lost, so batches were sent again")
        let reply = try await server.request("GET", "/api/v2/analytics/tokens?tenant=acme")
        let rows = reply.json as? [[String: Any]] ?? []
        #expect(rows.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) } == expected.requests)
        #expect(rows.reduce(0) { $0 + ($1["prompt_tokens"] as? Int ?? 0) } == expected.prompt)
        #expect(rows.reduce(0) { $0 + ($1["completion_tokens"] as? Int ?? 0) } == expected.completion)
        let calls = try await server.storedRecords([.metric]).filter { if case .metric(let m) = $0 { m.name == "calls" } else { false } }
        #expect(calls.count == 600, "a retried batch is stored once")
    }
}

/// Sends every request, but loses every third answer, as a dropped connection after the server
/// answered would.
final class LosingTransport: SluiceTransport {
    let inner: any SluiceTransport
    let sent = Mutex(0)
    init(_ inner: any SluiceTransport) { self.inner = inner }

    func send(_ request: SluiceRequest) async throws -> SluiceResponse {
        let response = try await inner.send(request)
        let n = sent.withLock { $0 += 1; return $0 }
        if n % 3 == 0 { throw ScriptedTransport.Unreachable() }
        return response
    }
}
