/// Whether the store can write, shared by the writer that finds out and everyone who must
/// act on it: ingest refuses new records (`507`), readiness turns false, and a shutdown tells
/// a writer that is waiting for space to give up.
public final class StoreHealth: Sendable {
    private struct State: Sendable {
        var failure: String?
        var failures: UInt64 = 0
        var stopping = false
    }

    private let state = Watched(State())

    public init() {}

    /// Why the store cannot write now, or `nil` while it can.
    public var failure: String? { state.value.failure }

    /// How many times writing has failed since start (a failure that persists counts once).
    public var failures: UInt64 { state.value.failures }

    /// The writer could not write; `true` when this is a new failure (not a repeat).
    @discardableResult
    public func failed(_ reason: String) -> Bool {
        state.update { s in
            let new = s.failure == nil
            if new { s.failures += 1 }
            s.failure = reason
            return new
        }
    }

    /// The writer wrote again; `true` when it had been failing.
    @discardableResult
    public func recovered() -> Bool {
        state.update { s in
            defer { s.failure = nil }
            return s.failure != nil
        }
    }

    /// Returns once the store is failing (`true`) or writing (`false`).
    public func wait(failing: Bool) async {
        await state.wait { ($0.failure != nil) == failing }
    }

    /// A shutdown began: a writer waiting for space makes one last attempt, then gives up.
    public func stop() { state.update { $0.stopping = true } }

    public var isStopping: Bool { state.value.stopping }
}
