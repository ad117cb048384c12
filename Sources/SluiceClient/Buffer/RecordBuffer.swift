import SluiceModel
import Synchronization

/// The state machine under a lock, and the async glue: producers suspend on a continuation when
/// `.wait` finds no room, and the flusher is woken through `wakeups` when a batch is full.
final class RecordBuffer: Sendable {
    private let state: Mutex<(machine: RecordBufferStateMachine<CheckedContinuation<Void, Never>>, nextID: UInt64,
                              watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)])>
    private let wake: AsyncStream<Void>.Continuation
    /// One element per full batch (coalesced): the flusher merges it with its timer.
    let wakeups: AsyncStream<Void>

    init(capacity: Int, batchSize: Int, policy: SluiceClient.BufferPolicy) {
        state = Mutex((RecordBufferStateMachine(capacity: capacity, batchSize: batchSize, policy: policy), 0, []))
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues `records`, suspending under `.wait` until they fit; under `.dropOldest` the
    /// oldest queued records make room. A producer cancelled while it waits drops its records.
    func append(_ records: [Record]) async {
        // The common case, room in the buffer, takes one lock and no continuation.
        let fast = state.withLock { s -> AppendResult in
            guard s.machine.hasRoom(for: records.count) else { return .full }
            guard case .appended(let wake, _) = s.machine.append(records, mayWait: false) else { return .closed }
            return wake ? .wake : .queued
        }
        switch fast {
        case .queued, .closed: return
        case .wake: wake.yield(); return
        case .full: break
        }
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (action, watchers) = state.withLock { s in
                    let action = s.machine.append(records, mayWait: !Task.isCancelled)
                    guard case .suspend = action else { return (action, [CheckedContinuation<Void, Never>]()) }
                    s.machine.suspend(id: id, records: records, waiter: continuation)
                    let count = s.machine.suspendedCount
                    defer { s.watchers.removeAll { $0.count <= count } }
                    return (action, s.watchers.filter { $0.count <= count }.map(\.continuation))
                }
                for watcher in watchers { watcher.resume() }
                switch action {
                case .appended(let wakeFlusher, _):
                    if wakeFlusher { wake.yield() }
                    continuation.resume()
                case .closed:
                    continuation.resume()
                case .suspend:
                    break
                }
            }
        } onCancel: {
            state.withLock { $0.machine.cancel(id: id) }?.resume()
        }
    }

    private enum AppendResult { case queued, wake, closed, full }

    /// Queues `records` without suspending (for callers that must not block, such as
    /// swift-metrics handlers): when there is no room, under `.wait` those of `records` that do
    /// not fit are dropped, under `.dropOldest` the oldest queued records.
    func appendNow(_ records: [Record]) {
        let action = state.withLock { $0.machine.append(records, mayWait: false) }
        if case .appended(true, _) = action { wake.yield() }
    }

    /// Queues what the flusher pulled from reporters: never suspends, never drops.
    func appendPulled(_ records: [Record]) {
        _ = state.withLock { $0.machine.force(records) }
    }

    /// Wakes the flusher (its timer does this each interval).
    func poke() { wake.yield() }

    /// Ends `wakeups` once the flusher has taken what is in it: graceful shutdown.
    func stopWakeups() { wake.finish() }

    /// The next batch to send; producers admitted into the room it leaves are resumed.
    func takeBatch(wholeOnly: Bool = false) -> [Record] {
        let (batch, resume) = state.withLock { $0.machine.takeBatch(wholeOnly: wholeOnly) }
        for waiter in resume { waiter.resume() }
        return batch
    }

    /// Everything still held; records offered from now on are dropped and counted.
    func close() -> [Record] {
        let (records, resume) = state.withLock { $0.machine.close() }
        for waiter in resume { waiter.resume() }
        wake.finish()
        return records
    }

    /// Returns once at least `count` producers are suspended for room (for tests).
    func suspended(atLeast count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.machine.suspendedCount >= count { return true }
                s.watchers.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    func countDropped(_ count: Int) { state.withLock { $0.machine.countDropped(count) } }

    var dropped: Int { state.withLock { $0.machine.dropped } }
    var pending: Int { state.withLock { $0.machine.pending } }
    /// Room for `count` more records without dropping or suspending anyone.
    func hasRoom(for count: Int) -> Bool {
        state.withLock { !$0.machine.isClosed && $0.machine.hasRoom(for: count) }
    }
}
