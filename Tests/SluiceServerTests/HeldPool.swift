import Dispatch
import Testing
import SluicePipeline
import SluiceStore

/// Every thread of a blocking pool (a live server's own) held until `release()`: what long
/// store scans, retention passes or compactions do to it.
struct HeldPool {
    private let gate = DispatchSemaphore(value: 0)
    private let holders: [Task<Void, Never>]

    /// Returns once every thread of `pool` is held.
    init(_ pool: BlockingWork.Pool) async {
        let holding = Watched(0)
        let gate = self.gate
        holders = (0..<pool.threads).map { _ in
            Task { await BlockingWork.run(on: pool) { holding.update { $0 += 1 }; gate.wait() } }
        }
        await holding.wait { $0 == pool.threads }
    }

    /// Lets the pool go, and returns once every holder has.
    func release() async {
        for _ in holders { gate.signal() }
        for holder in holders { await holder.value }
    }
}
