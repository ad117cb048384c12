import Foundation

/// Runs blocking work (a socket read, waiting for a child process) on a thread of its own, so
/// it never holds one of the few threads the in-process servers under test run their tasks on.
///
/// Not Dispatch's global queue: on Linux it runs about as many blocks at once as there are
/// cores, so two long waits (a fake server's `accept`, a child's exit) would hold every other
/// blocking call of the suite back, for as long as they last.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Starts `body` on a thread of its own at once, and returns a task whose value is its result.
///
/// For a fake server: `Task { try await offThePool { … } }` starts the thread only once the task
/// gets a turn on the cooperative pool, and under the whole suite's load that turn can come
/// after the client under test has given up waiting for an answer.
public func startedOnAThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> Task<T, any Error> {
    let (results, continuation) = AsyncStream<Result<T, any Error>>.makeStream()
    let thread = Thread {
        continuation.yield(Result { try body() })
        continuation.finish()
    }
    thread.stackSize = 1 << 20
    thread.start()
    return Task {
        for await result in results { return try result.get() }
        throw CancellationError()
    }
}
