import Dispatch
import Testing
import SluicePipeline
import SluiceStore

/// Suites that hold the blocking pool or wait on it against a deadline (a full disk's 507
/// must arrive before the durability wait gives up): one at a time, so neither starves the other.
@Suite(.serialized) struct BlockingPoolSuites {}

/// Every thread of the blocking pool held until `release()`: what a long store scan, a slow
/// fsync or a compaction does to it.
struct HeldPool {
    private let gate = DispatchSemaphore(value: 0)
    private let holders: [Task<Void, Never>]

    /// Returns once every pool thread is held.
    init() async {
        let holding = Watched(0)
        let gate = self.gate
        holders = (0..<BlockingWork.threads).map { _ in
            Task { await BlockingWork.run { holding.update { $0 += 1 }; gate.wait() } }
        }
        await holding.wait { $0 == BlockingWork.threads }
    }

    /// Lets the pool go, and returns once every holder has.
    func release() async {
        for _ in holders { gate.signal() }
        for holder in holders { await holder.value }
    }
}
