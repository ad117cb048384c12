import Synchronization

/// What the writer has written, readable from outside (self-metrics, benchmarks).
public final class StoreStatistics: Sendable {
    private let state = Mutex<(blocks: Int, records: Int, bytes: Int)>((0, 0, 0))

    public init() {}

    func recordBlock(records: Int, bytes: Int) {
        state.withLock { $0.blocks += 1; $0.records += records; $0.bytes += bytes }
    }

    /// Blocks counted as written whose write then failed: they will be written (and counted) again.
    func forget(records: Int, bytes: Int, blocks: Int) {
        state.withLock { $0.blocks -= blocks; $0.records -= records; $0.bytes -= bytes }
    }

    public var blocks: Int { state.withLock { $0.blocks } }
    public var records: Int { state.withLock { $0.records } }
    public var bytes: Int { state.withLock { $0.bytes } }
}
