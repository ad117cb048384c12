import Synchronization
import SluiceModel

/// Records on their way into the pipeline: what every source sends.
public struct RecordBatch: Sendable {
    public var records: [Record]
    /// Resolved once the records are durable in the store (`fsync: always`), or, without a
    /// store, once the aggregator has taken them. `nil` when nobody waits.
    public var acknowledgement: Acknowledgement?

    public init(records: [Record], acknowledgement: Acknowledgement? = nil) {
        self.records = records
        self.acknowledgement = acknowledgement
    }
}

/// A one-shot signal a producer can wait on (an HTTP request waiting for its records to be
/// durable before it answers).
public final class Acknowledgement: Sendable {
    private enum State {
        case pending([CheckedContinuation<Bool, Never>])
        case done(Bool)
    }

    private let state = Mutex(State.pending([]))

    public init() {}

    /// Waits until resolved; `true` when the records were stored, `false` when they could not be.
    public func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Bool? in
                switch s {
                case .done(let ok): return ok
                case .pending(var waiters):
                    waiters.append(continuation)
                    s = .pending(waiters)
                    return nil
                }
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    public func resolve(_ ok: Bool = true) {
        let waiters = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            guard case .pending(let waiters) = s else { return [] }
            s = .done(ok)
            return waiters
        }
        for w in waiters { w.resume(returning: ok) }
    }
}
