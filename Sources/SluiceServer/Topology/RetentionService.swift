import ServiceLifecycle
import SluiceModel
import SluiceStore

/// Rolls closed windows up into the tiers and applies the retention policy in force every
/// interval of the injected clock, until a graceful shutdown. One loop for every command that
/// stores.
struct RetentionService<C: Clock>: Service where C.Duration == Duration {
    let store: Topology.Store
    let interval: Duration
    let clock: C
    /// What a run came to: a report, or why it failed.
    let report: @Sendable (Result<RetentionPruner.Report, StoreError>) -> Void

    func run() async throws {
        try? await cancelWhenGracefulShutdown { () async throws -> Void in
            while true {
                try await clock.sleep(for: interval)
                await store.maintainTiers(now: Timestamp.now())
                do throws(StoreError) {
                    // A prune reads and rewrites segment files: on the blocking pool.
                    let pruner = store.pruner
                    report(.success(try await BlockingWork.run { () throws(StoreError) in try pruner.prune(now: Timestamp.now()) }))
                } catch {
                    report(.failure(error))
                }
                store.retentionRuns.update { $0 += 1 }
            }
        }
    }
}
