import Synchronization
import SluiceModel

/// Records on their way into the window aggregator: what the ingest edge sends.
public struct RecordBatch: Sendable {
    public var records: [Record]
    /// Asks the aggregator to checkpoint its open windows after these records (the periodic
    /// checkpoint that bounds what a crash can lose).
    public var checkpoint: Bool
    /// Where these records end in their source (a cluster partition's stream sequence): the
    /// aggregator keeps it and every checkpoint after it carries it.
    public var position: UInt64?
    /// To resolve once these records are durable: the aggregator passes them to the store with
    /// the records (and drops them when there is no store).
    public var acknowledgements: [Acknowledgement]
    /// Answers to keyed requests, stored in the same block as these records.
    public var receipts: [IngestReceipt]

    public init(records: [Record], checkpoint: Bool = false, position: UInt64? = nil, acknowledgements: [Acknowledgement] = [],
                receipts: [IngestReceipt] = []) {
        self.records = records
        self.checkpoint = checkpoint
        self.position = position
        self.acknowledgements = acknowledgements
        self.receipts = receipts
    }
}

/// A one-shot signal a producer can wait on (an HTTP request waiting for its records to be
/// durable before it answers).
public final class Acknowledgement: Sendable {
    /// How it was resolved.
    public enum Outcome: Sendable, Equatable {
        /// The records are stored (and synced, per the fsync policy).
        case stored
        /// The store could not write them, for this reason.
        case failed(String)
        /// The waiter stopped waiting (its task was cancelled) before either, or the records
        /// never reached a store that could answer for them: either way, not known to be durable.
        case cancelled
    }

    private struct State {
        var outcome: Outcome?
        var waiters: [Int: CheckedContinuation<Outcome, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Waits until resolved, or until the calling task is cancelled (`.cancelled`), so a
    /// caller with a deadline is never held past it.
    public func wait() async -> Outcome {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { s -> Outcome? in
                    if let outcome = s.outcome { return outcome }
                    if Task.isCancelled { return .cancelled }
                    s.waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: .cancelled)
        }
    }

    /// How it was resolved, or `nil` while it is not.
    public var outcome: Outcome? { state.withLock { $0.outcome } }

    /// Resolves once; later calls change nothing.
    public func resolve(_ outcome: Outcome = .stored) {
        let waiters = state.withLock { s -> [CheckedContinuation<Outcome, Never>] in
            guard s.outcome == nil else { return [] }
            s.outcome = outcome
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(returning: outcome) }
    }
}
