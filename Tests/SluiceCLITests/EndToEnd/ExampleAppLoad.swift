import Foundation
import SluiceModel
import Synchronization

/// Mixed requests to `sluice-example-app` from several concurrent workers, and the tally of
/// what they sent and what the app answered: the oracle its `/stats` and Sluice are held to.
enum ExampleAppLoad {
    enum Call: Sendable {
        case item(Int)
        case search(String)
        /// `id` nil: the app makes one up, so the call counts on its own.
        case chat(model: String, prompt: String, id: String?)
    }

    /// `count` calls, the same for the same seed: half item lookups (a hot set of 40 ids and a
    /// long tail of 400, so the 100-entry cache both hits and evicts), a quarter searches, a
    /// quarter chats (two in three with an `X-Request-Id` from a pool of 150 that repeats, each
    /// id always with the same model and prompt).
    static func calls(_ count: Int, seed: UInt64) -> [Call] {
        var random = SeededRandom(seed: seed)
        let models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"]
        return (0..<count).map { _ in
            switch random.next() % 4 {
            case 0, 1:
                return .item(random.next() % 5 < 3 ? Int(random.next() % 40) : Int(random.next() % 400))
            case 2:
                return .search("query \(random.next() % 1_000)")
            default:
                if random.next() % 3 == 0 {
                    let words = 1 + Int(random.next() % 60)
                    return .chat(model: models[Int(random.next() % 3)], prompt: String(repeating: "tell me more ", count: words), id: nil)
                }
                let k = Int(random.next() % 150)
                return .chat(model: models[k % 3], prompt: String(repeating: "question \(k) ", count: 1 + k % 40), id: "conv-\(seed)-\(k)")
            }
        }
    }

    /// What was sent and answered.
    struct Tally: Sendable {
        var requests: [String: Int] = [:]
        var hits = 0
        var misses = 0
        /// Token counts per request id, as the app answered them (the first answer per id).
        var chats: [String: Usage] = [:]
        /// Chat calls, repeats included.
        var chatCalls = 0

        struct Usage: Sendable {
            var prompt: Int
            var completion: Int
        }

        mutating func merge(_ other: Tally) {
            requests.merge(other.requests, uniquingKeysWith: +)
            hits += other.hits
            misses += other.misses
            chats.merge(other.chats) { first, _ in first }
            chatCalls += other.chatCalls
        }

        /// The counts `/stats` must show for what this tally sent (before `/stats` itself).
        var expected: AppCounts {
            AppCounts(requests: requests, hits: hits, misses: misses, tokenRequests: chats.count,
                      prompt: chats.values.reduce(0) { $0 + $1.prompt }, completion: chats.values.reduce(0) { $0 + $1.completion })
        }
    }

    /// Runs `calls` on `workers` concurrent workers (worker `w` takes every `workers`-th call),
    /// each waiting for one answer before it sends the next; `progress` hears of each answer.
    static func run(_ calls: [Call], against app: ExampleAppProcess, workers: Int, progress: Progress? = nil) async throws -> Tally {
        try await withThrowingTaskGroup(of: Tally.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var tally = Tally()
                    for index in stride(from: worker, to: calls.count, by: workers) {
                        try await send(calls[index], to: app, into: &tally)
                        progress?.answered()
                    }
                    return tally
                }
            }
            var total = Tally()
            for try await tally in group { total.merge(tally) }
            return total
        }
    }

    private static func send(_ call: Call, to app: ExampleAppProcess, into tally: inout Tally) async throws {
        switch call {
        case .item(let id):
            let object = try answer(try await app.get("/items/\(id)"), call)
            guard let cached = object["cached"] as? Bool, object["id"] as? String == "\(id)" else { throw LoadError(call: call, answer: object) }
            tally.requests["/items/{id}", default: 0] += 1
            if cached { tally.hits += 1 } else { tally.misses += 1 }
        case .search(let query):
            let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let object = try answer(try await app.get("/search?q=\(encoded)"), call)
            guard object["q"] as? String == query else { throw LoadError(call: call, answer: object) }
            tally.requests["/search", default: 0] += 1
        case .chat(let model, let prompt, let id):
            let object = try answer(try await app.post("/chat", json: ["model": model, "prompt": prompt], headers: id.map { ["X-Request-Id": $0] } ?? [:]), call)
            guard let requestID = object["request_id"] as? String, id == nil || requestID == id,
                  let promptTokens = object["prompt_tokens"] as? Int, let completionTokens = object["completion_tokens"] as? Int else {
                throw LoadError(call: call, answer: object)
            }
            tally.requests["/chat", default: 0] += 1
            tally.chatCalls += 1
            if tally.chats[requestID] == nil { tally.chats[requestID] = .init(prompt: promptTokens, completion: completionTokens) }
        }
    }

    private static func answer(_ response: (status: Int, body: Data), _ call: Call) throws -> [String: Any] {
        guard response.status == 200, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            throw LoadError(call: call, answer: ["status": response.status, "body": String(decoding: response.body, as: UTF8.self)])
        }
        return object
    }

    struct LoadError: Error, CustomStringConvertible {
        var description: String

        init(call: Call, answer: [String: Any]) {
            description = "\(call) was answered \(answer)"
        }
    }

    /// Answers so far, and waiting until there are enough.
    final class Progress: Sendable {
        private let state = Mutex<(answered: Int, waiting: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

        func answered() {
            let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.answered += 1
                let count = s.answered
                let ready = s.waiting.filter { $0.0 <= count }.map(\.1)
                s.waiting.removeAll { $0.0 <= count }
                return ready
            }
            for continuation in ready { continuation.resume() }
        }

        var count: Int { state.withLock { $0.answered } }

        /// Returns once `count` calls have been answered.
        func wait(until count: Int) async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { s -> Bool in
                    if s.answered >= count { return true }
                    s.waiting.append((count, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }
}
