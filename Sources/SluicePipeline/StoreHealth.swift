import Synchronization

/// Whether the store can write, shared by the writer that finds out and everyone who must
/// act on it: ingest refuses new records (`507`), readiness turns false, and a shutdown tells
/// a writer that is waiting for space to give up.
public final class StoreHealth: Sendable {
    private struct State {
        var failure: String?
        var failures: UInt64 = 0
        var stopping = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Why the store cannot write now, or `nil` while it can.
    public var failure: String? { state.withLock { $0.failure } }

    /// How many times writing has failed since start (a failure that persists counts once).
    public var failures: UInt64 { state.withLock { $0.failures } }

    /// The writer could not write; `true` when this is a new failure (not a repeat).
    @discardableResult
    public func failed(_ reason: String) -> Bool {
        state.withLock { s in
            let new = s.failure == nil
            if new { s.failures += 1 }
            s.failure = reason
            return new
        }
    }

    /// The writer wrote again; `true` when it had been failing.
    @discardableResult
    public func recovered() -> Bool {
        state.withLock { s in
            defer { s.failure = nil }
            return s.failure != nil
        }
    }

    /// A shutdown began: a writer waiting for space makes one last attempt, then gives up.
    public func stop() { state.withLock { $0.stopping = true } }

    public var isStopping: Bool { state.withLock { $0.stopping } }
}
