import Synchronization
@testable import SluiceClient

/// A transport whose answers a test scripts: each request is recorded and handed to the test
/// through `requests`; an answer is taken from the script, or the test holds the request until
/// it calls `release`.
final class ScriptedTransport: SluiceTransport {
    enum Answer: Sendable {
        case status(Int, retryAfter: Int? = nil, body: String = "")
        /// A connection error: nothing reached the server.
        case unreachable
        /// Wait for `release` before answering.
        case hold
    }

    struct Unreachable: Error {}

    private struct State {
        var script: [Answer]
        var fallback: Answer
        var received: [SluiceRequest] = []
        var held: [CheckedContinuation<Answer, Never>] = []
        /// Set by `release`: what held requests, and later ones, are answered.
        var released: Answer?
    }

    private let state: Mutex<State>
    private let arrivals: AsyncStream<SluiceRequest>.Continuation
    /// Every request, as it arrives.
    let requests: AsyncStream<SluiceRequest>

    init(_ script: [Answer] = [], then fallback: Answer = .status(202)) {
        state = Mutex(State(script: script, fallback: fallback))
        (requests, arrivals) = AsyncStream.makeStream()
    }

    var received: [SluiceRequest] { state.withLock { $0.received } }

    /// Answers held requests with `answer`, and every later one too.
    func release(with answer: Answer = .status(202)) {
        let held = state.withLock { s in
            s.fallback = answer
            s.released = answer
            s.script.removeAll()
            defer { s.held.removeAll() }
            return s.held
        }
        for request in held { request.resume(returning: answer) }
    }

    func send(_ request: SluiceRequest) async throws -> SluiceResponse {
        let next = state.withLock { s -> Answer in
            s.received.append(request)
            return s.script.isEmpty ? s.fallback : s.script.removeFirst()
        }
        arrivals.yield(request)
        var answer = next
        if case .hold = answer {
            answer = await withCheckedContinuation { continuation in
                let releasedMeanwhile = state.withLock { s -> Answer? in
                    if s.released == nil { s.held.append(continuation) }
                    return s.released
                }
                if let releasedMeanwhile { continuation.resume(returning: releasedMeanwhile) }
            }
        }
        switch answer {
        case .status(let status, let retryAfter, let body): return SluiceResponse(status: status, retryAfter: retryAfter, body: body)
        case .unreachable, .hold: throw Unreachable()
        }
    }
}

/// The records of a request body (uncompressed), as NDJSON lines.
func lines(_ request: SluiceRequest) -> [String] {
    String(decoding: request.body, as: UTF8.self).split(separator: "\n").map(String.init)
}
