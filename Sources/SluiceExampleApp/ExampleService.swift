import Foundation
import Hummingbird
import HTTPTypes
import SluiceClient
import Synchronization

/// The app's routes over its cache, fake store and fake LLM, and the counts `/stats` shows.
struct ExampleService: Sendable {
    let sluice: SluiceClient?
    let cache: ItemCache
    let stats = AppStats()
    let caches: CacheStatsRecorder?
    let tokens: TokenUsageRecorder?

    init(sluice: SluiceClient?) {
        self.sluice = sluice
        self.cache = ItemCache(capacity: 100)
        self.caches = sluice.map { CacheStatsRecorder(client: $0) }
        self.tokens = sluice.map { TokenUsageRecorder(client: $0) }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        // The app's own count first: it sees every request, as Sluice's samples do.
        router.add(middleware: CountingMiddleware(stats: stats))
        // The app's own swift-metrics instrumentation: reported through SluiceMetricsFactory
        // when Sluice is on, and to swift-metrics' no-op backend when it is off.
        router.add(middleware: MetricsMiddleware())
        if let sluice {
            router.add(middleware: SluicePerformanceMiddleware(client: sluice))
        }
        router.get("items/{id}") { _, context in try await item(context.parameters.require("id")) }
        router.get("search") { request, _ in await search(request.uri.queryParameters.get("q") ?? "") }
        router.post("chat") { request, context in try await chat(request, context) }
        router.get("stats") { _, _ in stats.response() }
        return router
    }

    private func item(_ id: String) async throws -> Response {
        if let value = cache.get(id) {
            stats.cache(hit: true)
            caches?.hit("items")
            return json(["id": id, "value": value, "cached": true])
        }
        stats.cache(hit: false)
        caches?.miss("items")
        let value = try await QueryPerformanceRecorder.measure { try await FakeStore.load(id) }
        cache.put(id, value)
        caches?.setSize("items", bytes: cache.bytes)
        return json(["id": id, "value": value, "cached": false])
    }

    private func search(_ query: String) async -> Response {
        let hits = await QueryPerformanceRecorder.measure { await FakeStore.search(query) }
        return json(["q": query, "hits": hits])
    }

    private func chat(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        struct Chat: Decodable { var model: String; var prompt: String }
        let body = try await request.decode(as: Chat.self, context: context)
        let requestID = request.headers[HTTPField.Name("X-Request-Id")!] ?? TokenUsageRecorder.makeRequestID()
        let usage = FakeLLM.complete(model: body.model, prompt: body.prompt)
        stats.tokens(requestID: requestID, prompt: usage.prompt, completion: usage.completion)
        // Reported on every call, repeats included: Sluice counts a request id once.
        await tokens?.record(model: body.model, promptTokens: usage.prompt, completionTokens: usage.completion, requestID: requestID)
        return json(["request_id": requestID, "model": body.model, "completion": usage.text,
                     "prompt_tokens": usage.prompt, "completion_tokens": usage.completion])
    }

    private func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Counts each request under its route pattern once it is answered.
struct CountingMiddleware<Context: RequestContext>: RouterMiddleware {
    let stats: AppStats

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        defer { stats.request(context.endpointPath ?? "NotFound") }
        return try await next(request, context)
    }
}

/// What the app itself served: `GET /stats` (design §11).
final class AppStats: Sendable {
    private struct Counts {
        var requests: [String: Int] = [:]
        var hits = 0
        var misses = 0
        var tokenRequests: Set<String> = []
        var prompt = 0
        var completion = 0
    }

    private let counts = Mutex(Counts())

    func request(_ route: String) { counts.withLock { $0.requests[route, default: 0] += 1 } }

    func cache(hit: Bool) { counts.withLock { if hit { $0.hits += 1 } else { $0.misses += 1 } } }

    /// Counted once per request id.
    func tokens(requestID: String, prompt: Int, completion: Int) {
        counts.withLock {
            guard $0.tokenRequests.insert(requestID).inserted else { return }
            $0.prompt += prompt
            $0.completion += completion
        }
    }

    func response() -> Response {
        let c = counts.withLock { $0 }
        let object: [String: Any] = [
            "requests": c.requests,
            "cache": ["items": ["hits": c.hits, "misses": c.misses]],
            "tokens": ["requests": c.tokenRequests.count, "prompt": c.prompt, "completion": c.completion],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
