import NIOPosix

/// Runs work that blocks its thread (file I/O, fsync, zstd, whole-store scans) on NIO's
/// blocking thread pool instead of Swift's cooperative pool.
///
/// The cooperative pool has one thread per core (two on a small server), and every task in
/// the process shares them: the HTTP server's handlers, the pipeline's stages, the socket
/// listeners. A store scan or an fsync run directly in async code holds one of those threads
/// for its whole length, so two at once stall everything else, health probes included. Here
/// the caller suspends instead, and the work waits its turn for one of `threads` pool threads.
///
/// The closure's error type comes back unchanged: work that throws `StoreError` is seen by its
/// caller as `StoreError`, with no wrapping.
public enum BlockingWork {
    /// How many blocking jobs run at once; the rest wait, in order, for a free thread.
    public static var threads: Int { NIOThreadPool.singleton.numberOfThreads }

    /// Runs `body` on a pool thread and returns what it returns, or throws what it throws.
    ///
    /// Work once asked for is always done: cancelling the caller does not skip it (a write or
    /// a seal must not be dropped half-way through the writer's bookkeeping), and the caller
    /// waits for it to finish.
    public static func run<Value: Sendable, Failure: Error>(
        _ body: @escaping @Sendable () throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, Failure>, Never>) in
            // `submit` hands the item `.cancelled` only when the pool has been shut down (the
            // singleton never is); the item then runs on the submitting thread, which is still
            // correct, only not off the cooperative pool.
            NIOThreadPool.singleton.submit { _ in
                continuation.resume(returning: Result { () throws(Failure) -> Value in try body() })
            }
        }
        return try outcome.get()
    }
}
