import Synchronization

/// A value under a lock that tasks can wait on until it meets a condition: the way to hear
/// that something happened (the store failed or recovered, a block was written, a prune ran)
/// without polling it.
public final class Watched<Value: Sendable>: Sendable {
    private struct Waiter {
        let condition: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var value: Value
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(_ value: Value) { state = Mutex(State(value: value)) }

    public var value: Value { state.withLock { $0.value } }

    /// Changes the value; waiters whose condition now holds are resumed after the lock.
    @discardableResult
    public func update<R>(_ body: (inout Value) -> R) -> R {
        let (result, ready) = state.withLock { s -> (R, [CheckedContinuation<Void, Never>]) in
            let result = body(&s.value)
            let value = s.value
            let met = s.waiters.filter { $0.value.condition(value) }
            for id in met.keys { s.waiters[id] = nil }
            return (result, met.values.map(\.continuation))
        }
        for continuation in ready { continuation.resume() }
        return result
    }

    /// Returns once `condition` holds for the value (at once if it already does), or when the
    /// calling task is cancelled.
    public func wait(until condition: @escaping @Sendable (Value) -> Bool) async {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { s -> Bool in
                    if condition(s.value) || Task.isCancelled { return true }
                    s.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
