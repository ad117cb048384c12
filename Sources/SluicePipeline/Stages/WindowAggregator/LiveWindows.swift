import Synchronization
import SluiceModel

/// The aggregator's open windows as the server reads them (`"partial": true` in `aggregate`).
///
/// The aggregator's state is its own; it publishes a copy of its open windows when someone
/// has asked since the last batch. A reader asks, nudges the pipeline with an empty batch so an
/// idle aggregator wakes, and waits briefly for the fresh copy.
public final class LiveWindows: Sendable {
    private struct State {
        var summaries: [OutputRecord] = []
        var generation = 0
        var waiters: [(Int, CheckedContinuation<[OutputRecord], Never>)] = []
    }

    private let requested = Atomic<Bool>(false)
    private let state = Mutex(State())

    public init() {}

    var isRequested: Bool { requested.load(ordering: .acquiring) }

    func publish(_ summaries: [OutputRecord]) {
        requested.store(false, ordering: .releasing)
        let waiters = state.withLock { s -> [CheckedContinuation<[OutputRecord], Never>] in
            s.summaries = summaries
            s.generation += 1
            defer { s.waiters = [] }
            return s.waiters.map(\.1)
        }
        for w in waiters { w.resume(returning: summaries) }
    }

    /// The open windows, fresh when the aggregator answers within `timeout`, otherwise the
    /// last copy published. Fresh means published after this call began: an idle aggregator
    /// may answer the nudge before the waiter below is in place, and that answer counts.
    public func openSummaries(nudge: () -> Void, timeout: Duration = .seconds(2)) async -> [OutputRecord] {
        let asked = state.withLock { $0.generation }
        requested.store(true, ordering: .releasing)
        nudge()
        return await withTaskGroup(of: [OutputRecord]?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let published = self.state.withLock { s -> [OutputRecord]? in
                        if s.generation > asked { return s.summaries }
                        s.waiters.append((asked, continuation))
                        return nil
                    }
                    if let published { continuation.resume(returning: published) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if let first {
                group.cancelAll()
                return first
            }
            // Timed out: answer with what we have and release the waiter.
            let (latest, waiters) = state.withLock { s -> ([OutputRecord], [CheckedContinuation<[OutputRecord], Never>]) in
                defer { s.waiters = [] }
                return (s.summaries, s.waiters.map(\.1))
            }
            for w in waiters { w.resume(returning: latest) }
            group.cancelAll()
            return latest
        }
    }
}
