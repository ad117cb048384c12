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
