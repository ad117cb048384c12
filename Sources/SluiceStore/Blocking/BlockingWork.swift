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
    /// The pool the current task's blocking work runs on, and that of every task it starts:
    /// NIO's shared one, unless the task runs under `$pool.withValue(_:)`, as a server in a
    /// test does with a pool of its own.
    @TaskLocal public static var pool: Pool = .shared

    /// How many blocking jobs of the current pool run at once; the rest wait, in order, for a
    /// free thread.
    public static var threads: Int { pool.threads }

    /// Runs `body` on a thread of `pool` (the current task's by default) and returns what it
    /// returns, or throws what it throws.
    ///
    /// Work once asked for is always done: cancelling the caller does not skip it (a write or
    /// a seal must not be dropped half-way through the writer's bookkeeping), and the caller
    /// waits for it to finish.
    public static func run<Value: Sendable, Failure: Error>(
        on pool: Pool = BlockingWork.pool, _ body: @escaping @Sendable () throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, Failure>, Never>) in
            // `submit` hands the item `.cancelled` only when the pool has been shut down (the
            // shared one never is); the item then runs on the submitting thread, which is still
            // correct, only not off the cooperative pool.
            pool.nio.submit { _ in
                continuation.resume(returning: Result { () throws(Failure) -> Value in try body() })
            }
        }
        return try outcome.get()
    }

    /// Threads for blocking work. A process needs one, `shared`; a pool of its own keeps one
    /// part's work from waiting behind another's, as when a test holds every thread of its
    /// server's pool while other tests' servers run beside it.
    public final class Pool: Sendable {
        /// NIO's blocking pool (`NIOThreadPool.singleton`): one thread per core by default.
        public static let shared = Pool(NIOThreadPool.singleton)

        let nio: NIOThreadPool
        /// How many jobs it runs at once.
        public let threads: Int

        private init(_ nio: NIOThreadPool) {
            self.nio = nio
            threads = nio.numberOfThreads
        }

        /// A started pool of `threads` threads (as many as the shared pool's by default);
        /// `shutdown()` stops it.
        public convenience init(threads: Int = Pool.shared.threads) {
            let nio = NIOThreadPool(numberOfThreads: threads)
            nio.start()
            self.init(nio)
        }

        /// Lets the jobs already asked for finish, then stops the threads. The shared pool
        /// is never stopped.
        public func shutdown() async {
            guard self !== Pool.shared else { return }
            try? await nio.shutdownGracefully()
        }
    }
}
