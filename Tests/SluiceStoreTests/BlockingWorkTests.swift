import Dispatch
import Testing
import SluicePipeline
@testable import SluiceStore

@Suite("Blocking work", .timeLimit(.minutes(5)))
struct BlockingWorkTests {
    @Test("a store error thrown on the pool reaches the caller as a StoreError, unwrapped")
    func typedError() async {
        do throws(StoreError) {
            try await BlockingWork.run { () throws(StoreError) in throw .io("cannot fsync /data/segments/1.open: Input/output error") }
            Issue.record("the error was lost")
        } catch {
            #expect(error.isIO)
            #expect(error.message == "cannot fsync /data/segments/1.open: Input/output error")
        }
    }

    @Test("work waiting for a busy pool holds none of the caller's threads, and runs once a pool thread frees")
    func waitingHoldsNoThread() async {
        // A pool of its own, as many threads as the shared one: holding the shared pool would
        // stall every other test's store.
        let pool = BlockingWork.Pool()
        let gate = DispatchSemaphore(value: 0)
        let holding = Watched(0)
        let holders = (0..<pool.threads).map { _ in
            Task { await BlockingWork.run(on: pool) { holding.update { $0 += 1 }; gate.wait() } }
        }
        await holding.wait { $0 == pool.threads }

        // More waiting callers than the cooperative pool has threads: were any of them to
        // block a thread while it waits, the task below could not run.
        let finished = Watched(0)
        let waiting = (0..<8).map { i in
            Task { () -> Int in
                let value = await BlockingWork.$pool.withValue(pool) { await BlockingWork.run { i * i } }
                finished.update { $0 += 1 }
                return value
            }
        }
        #expect(await Task.detached { "still running" }.value == "still running")
        #expect(finished.value == 0, "every pool thread is held, so no job has run")

        for _ in holders { gate.signal() }
        var results: [Int] = []
        for task in waiting { results.append(await task.value) }
        #expect(results == (0..<8).map { $0 * $0 })
        for holder in holders { await holder.value }
        await pool.shutdown()
    }
}
