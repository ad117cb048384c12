import Dispatch

/// Runs blocking work (a socket read, waiting for a child process) on a Dispatch thread, so
/// it never holds one of the few threads the in-process servers under test run their tasks on.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
