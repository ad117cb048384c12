import Foundation
import Testing
import SluiceTesting

/// `sluice-example-app` reporting through `SluiceClient` to a real `sluice serve`, both spawned
/// binaries on loopback: after a few thousand mixed requests, Sluice's windows hold exactly what
/// the app served and counted at `/stats`, and what the load itself tallied; with Sluice stopped
/// and restarted mid-load, `wait` loses nothing and `drop-oldest` counts what it dropped; token
/// totals are never counted twice.
@Suite("sluice-example-app end to end", .serialized, .timeLimit(.minutes(5)))
struct ExampleAppTests {
    static let routes = ["/items/{id}", "/search", "/chat"]

    static func serve(_ dir: String, port: Int = 0) async throws -> ServerProcess {
        try await offThePool {
            try ServerProcess(arguments: ["serve", "--http", "127.0.0.1:\(port)", "--data-dir", "\(dir)/data"])
        }
    }

    /// A test that failed part-way leaves no server behind.
    static func stopIfRunning(_ server: ServerProcess) {
        if server.process.isRunning { server.process.terminate() }
    }

    static func app(_ serve: ServerProcess, _ flags: [String]) async throws -> ExampleAppProcess {
        try await ExampleAppProcess.start(["--sluice", "http://127.0.0.1:\(serve.http)"] + flags)
    }

    /// What Sluice holds for tenant `example` once every window is final.
    struct SluiceCounts {
        /// `response_time` samples per route, summed over the 1m windows (`aggregate`).
        var requests: [String: Int] = [:]
        /// Raw `performance` records stored, per route.
        var rawRequests: [String: Int] = [:]
        /// Samples of Hummingbird's request timer, reported through `SluiceMetricsFactory`.
        var timerSamples = 0
        /// The sum of the client's own `sluice_client_dropped_records`.
        var clientDropped = 0.0
        /// Cache `items`, summed over its stored cache windows.
        var hits = 0
        var misses = 0
        /// `/api/v2/analytics/tokens`, summed over models.
        var tokenRequests = 0
        var prompt = 0
        var completion = 0
        /// Raw `token_usage` records stored (repeated request ids included).
        var tokenRecords = 0
    }

    /// Stops `serve` gracefully (its open windows checkpointed), and reads what it holds with no
    /// polling: a fresh `serve` on the same directory answers token totals and windows, then
    /// `replay` of no input closes every window into the store for `sluice query`.
    static func finalCounts(_ dir: String, stopping serve: ServerProcess) async throws -> SluiceCounts {
        #expect(try await serve.terminate() == 0, "\(serve.stderr)")
        let reader = try await Self.serve(dir)
        defer { Self.stopIfRunning(reader) }
        var counts = SluiceCounts()
        for window in try await json(reader.get("/api/v2/analytics/aggregate?tenant=example&metric=response_time&window=1m&stat=count")) {
            let route = (window["labels"] as? [String: String])?["route"] ?? "-"
            counts.requests[route, default: 0] += int(window["count"])
        }
        for window in try await json(reader.get("/api/v2/analytics/aggregate?tenant=example&metric=http.server.request.duration&window=1m&stat=count")) {
            counts.timerSamples += int(window["count"])
        }
        for window in try await json(reader.get("/api/v2/analytics/aggregate?tenant=example&metric=sluice_client_dropped_records&window=1m&stat=sum")) {
            counts.clientDropped += (window["sum"] as? NSNumber)?.doubleValue ?? .nan
        }
        for usage in try await json(reader.get("/api/v2/analytics/tokens?tenant=example&period=month")) {
            counts.tokenRequests += int(usage["requests"])
            counts.prompt += int(usage["prompt_tokens"])
            counts.completion += int(usage["completion_tokens"])
        }
        #expect(try await reader.terminate() == 0, "\(reader.stderr)")

        let flushed = try await SluiceBinary.run(["replay", "/dev/null", "--data-dir", "\(dir)/data"])
        #expect(flushed.status == 0, "\(flushed.stderr)")
        for window in try await query(dir, "cache_window") where window["cache"] as? String == "items" {
            counts.hits += int(window["hits"])
            counts.misses += int(window["misses"])
        }
        for record in try await query(dir, "performance") {
            counts.rawRequests[(record["labels"] as? [String: String])?["route"] ?? record["route"] as? String ?? "-", default: 0] += 1
        }
        counts.tokenRecords = try await query(dir, "token_usage").count
        return counts
    }

    static func json(_ text: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], "not a JSON array: \(text.prefix(500))")
    }

    static func query(_ dir: String, _ type: String) async throws -> [[String: Any]] {
        let result = try await SluiceBinary.run(["query", "--data-dir", "\(dir)/data", "--type", type, "--tenant", "example"])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Listens on `port` (where Sluice was) until one request arrives, answers it `503` with
    /// `Retry-After: 1`, and closes. Blocking: call it off the pool.
    static func answerUnavailable(port: Int) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw ServerProcessError(description: "socket: errno \(errno)") }
        defer { close(listener) }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = LoopbackSockets.withAddress(port: port) { bind(listener, $0, $1) }
        guard bound == 0, listen(listener, 16) == 0 else { throw ServerProcessError(description: "cannot listen on \(port): errno \(errno)") }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { throw ServerProcessError(description: "accept: errno \(errno)") }
        defer { close(connection) }
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while !String(decoding: head, as: UTF8.self).contains("\r\n\r\n") {
            let count = read(connection, &chunk, chunk.count)
            guard count > 0 else { break }
            head += chunk[0..<count]
        }
        let answer = Array("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
    }

    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? -1_000_000 }

    /// The workload did what it is for: hits and misses, evictions, repeated request ids.
    static func expectMixed(_ tally: ExampleAppLoad.Tally, _ calls: [ExampleAppLoad.Call]) {
        let items = Set(calls.compactMap { if case .item(let id) = $0 { id } else { nil } })
        #expect(tally.hits > 0)
        #expect(tally.misses > items.count, "an id misses a second time only once it was evicted")
        #expect(tally.chatCalls > tally.chats.count, "some request ids were repeated")
    }

    /// Sluice holds exactly what the app counted, and the app counted exactly what was sent;
    /// `statsCalls` `GET /stats` were answered too.
    static func expectExact(_ sluice: SluiceCounts, _ stats: AppCounts, _ tally: ExampleAppLoad.Tally, statsCalls: Int) {
        #expect(stats == tally.expected, "/stats \(stats)\nsent  \(tally.expected)")
        let served = stats.requests.merging(["/stats": statsCalls], uniquingKeysWith: +)
        for route in routes {
            #expect(sluice.requests[route] == stats.requests[route], "\(route): Sluice's windows \(sluice.requests[route] ?? 0), /stats \(stats.requests[route] ?? 0)")
        }
        #expect(sluice.requests == served, "every request's sample is in a window once")
        #expect(sluice.rawRequests == served, "every request's sample is stored once")
        #expect(sluice.hits == stats.hits && sluice.misses == stats.misses,
                "cache items: Sluice \(sluice.hits) hits \(sluice.misses) misses, /stats \(stats.hits) hits \(stats.misses) misses")
        #expect(sluice.tokenRequests == stats.tokenRequests && sluice.prompt == stats.prompt && sluice.completion == stats.completion,
                "tokens: Sluice \(sluice.tokenRequests) requests \(sluice.prompt) prompt \(sluice.completion) completion; /stats \(stats)")
    }

    @Test("3,000 mixed requests: Sluice's route counts, cache hits and misses and token totals equal /stats and the load's own tally")
    func statsMatch() async throws {
        let dir = TestFiles.temporaryDirectory("sluice-example-app")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let serve = try await Self.serve(dir)
        defer { Self.stopIfRunning(serve) }
        let app = try await Self.app(serve, ["--flush-interval", "200ms"])
        let calls = ExampleAppLoad.calls(3_000, seed: 1)
        let tally = try await ExampleAppLoad.run(calls, against: app, workers: 8)
        Self.expectMixed(tally, calls)
        let stats = try await app.stats()
        #expect(try await app.terminate() == 0, "\(app.log)")
        let client = try #require(app.clientStatistics, "no final statistics in: \(app.log.suffix(2000))")
        #expect(client["dropped"] == 0 && client["rejected"] == 0, "\(client)")

        let sluice = try await Self.finalCounts(dir, stopping: serve)
        Self.expectExact(sluice, stats, tally, statsCalls: 1)
        #expect(sluice.timerSamples == calls.count + 1, "every request's timer sample, through SluiceMetricsFactory")
        #expect(sluice.tokenRecords == tally.chatCalls, "each call reported once, repeats included")
    }

    @Test("buffer policy wait: Sluice stopped and restarted mid-load on the same port and directory; nothing is lost, tokens counted once")
    func waitAcrossRestart() async throws {
        let dir = TestFiles.temporaryDirectory("sluice-example-app")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var serve = try await Self.serve(dir)
        defer { Self.stopIfRunning(serve) }
        let port = serve.http
        // A buffer of 200 records fills within a hundred requests of Sluice going away: from
        // then on requests are held until it is back.
        let app = try await Self.app(serve, ["--flush-interval", "200ms", "--buffer-policy", "wait", "--buffer-capacity", "200"])
        let calls = ExampleAppLoad.calls(2_000, seed: 2)
        let progress = ExampleAppLoad.Progress()
        async let load = ExampleAppLoad.run(calls, against: app, workers: 8, progress: progress)
        await progress.wait(until: 700)
        #expect(try await serve.terminate() == 0, "\(serve.stderr)")
        // Sluice is down until the client has certainly met the outage: its next request is
        // refused with 503, then Sluice starts again on the same port and directory.
        try await offThePool { try Self.answerUnavailable(port: port) }
        serve = try await Self.serve(dir, port: port)
        let tally = try await load
        Self.expectMixed(tally, calls)
        let stats = try await app.stats()
        #expect(try await app.terminate() == 0, "\(app.log)")
        let client = try #require(app.clientStatistics, "no final statistics in: \(app.log.suffix(2000))")
        #expect(client["retries", default: 0] > 0, "the client saw Sluice go away: \(client)")
        #expect(client["rejected"] == 0, "\(client)")

        let sluice = try await Self.finalCounts(dir, stopping: serve)
        Self.expectExact(sluice, stats, tally, statsCalls: 1)
        // Only what cannot wait (timer samples, recorded synchronously) may be dropped, and
        // each drop is counted and reported.
        #expect(sluice.timerSamples + (client["dropped"] ?? -1) == calls.count + 1, "timer samples \(sluice.timerSamples), \(client)")
        #expect(sluice.clientDropped == Double(client["dropped"] ?? -1))
        #expect(sluice.tokenRecords == tally.chatCalls, "each call stored once, repeats included: a retried batch is not stored again")
    }

    @Test("buffer policy drop-oldest with 50 records: with Sluice down requests go on; what Sluice lacks is what the client counted as dropped")
    func dropOldestWhileDown() async throws {
        let dir = TestFiles.temporaryDirectory("sluice-example-app")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var serve = try await Self.serve(dir)
        defer { Self.stopIfRunning(serve) }
        let port = serve.http
        let app = try await Self.app(serve, ["--flush-interval", "100ms", "--buffer-policy", "drop-oldest", "--buffer-capacity", "50"])
        let calls = ExampleAppLoad.calls(2_000, seed: 3)
        let progress = ExampleAppLoad.Progress()
        async let load = ExampleAppLoad.run(calls, against: app, workers: 8, progress: progress)
        await progress.wait(until: 500)
        #expect(try await serve.terminate() == 0, "\(serve.stderr)")
        // Sluice is down: the app answers 300 more requests all the same.
        let stoppedAt = progress.count
        #expect(stoppedAt + 300 <= calls.count)
        await progress.wait(until: min(stoppedAt + 300, calls.count))
        serve = try await Self.serve(dir, port: port)
        let tally = try await load
        let stats = try await app.stats()
        #expect(stats == tally.expected, "/stats \(stats)\nsent  \(tally.expected)")
        #expect(try await app.terminate() == 0, "\(app.log)")
        let client = try #require(app.clientStatistics, "no final statistics in: \(app.log.suffix(2000))")
        let dropped = try #require(client["dropped"])
        #expect(dropped > 0, "a 50-record buffer with Sluice down drops: \(client)")
        #expect(client["rejected"] == 0, "\(client)")

        let sluice = try await Self.finalCounts(dir, stopping: serve)
        let served = stats.requests.merging(["/stats": 1], uniquingKeysWith: +)
        let servedTotal = served.values.reduce(0, +)
        // Per route, Sluice holds at most what was served, and windows and raw records agree.
        for (route, count) in served {
            #expect((sluice.requests[route] ?? 0) <= count, "\(route)")
        }
        #expect(sluice.requests == sluice.rawRequests)
        let samples = sluice.requests.values.reduce(0, +)
        // Every request's performance sample and timer sample, and every chat's usage, either
        // reached Sluice or is among the records the client counted as dropped.
        let lost = (servedTotal - samples) + (servedTotal - sluice.timerSamples) + (tally.chatCalls - sluice.tokenRecords)
        #expect(samples + dropped >= servedTotal)
        // The client's drop count travels with the next batch it delivers
        // (`sluice_client_dropped_records`), so what Sluice lacks, what the client counted and
        // what it reported are one number.
        let described = "lost: \(servedTotal - samples) performance, \(servedTotal - sluice.timerSamples) timer, \(tally.chatCalls - sluice.tokenRecords) token usage; sluice_client_dropped_records \(sluice.clientDropped); \(client)"
        #expect(sluice.clientDropped > 0, "\(described)")
        #expect(sluice.clientDropped == Double(lost) && lost == dropped, "\(described)")
        // Cache counts are pulled, not queued: they arrive whole once Sluice is back.
        #expect(sluice.hits == stats.hits && sluice.misses == stats.misses, "cache: Sluice \(sluice.hits)/\(sluice.misses), /stats \(stats.hits)/\(stats.misses)")
        // Dropped usage is missing, never counted twice.
        #expect(sluice.tokenRequests <= stats.tokenRequests && sluice.prompt <= stats.prompt && sluice.completion <= stats.completion,
                "tokens: Sluice \(sluice.tokenRequests) \(sluice.prompt) \(sluice.completion); /stats \(stats)")
    }
}
