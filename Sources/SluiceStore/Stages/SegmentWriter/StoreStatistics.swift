import SluicePipeline

/// What the writer has written, readable from outside (self-metrics, benchmarks).
public final class StoreStatistics: Sendable {
    private struct Counts: Sendable {
        var blocks = 0, records = 0, bytes = 0, compactedSegments = 0
    }

    private let state = Watched(Counts())

    public init() {}

    func recordBlock(records: Int, bytes: Int) {
        state.update { $0.blocks += 1; $0.records += records; $0.bytes += bytes }
    }

    /// Blocks counted as written whose write then failed: they will be written (and counted) again.
    func forget(records: Int, bytes: Int, blocks: Int) {
        state.update { $0.blocks -= blocks; $0.records -= records; $0.bytes -= bytes }
    }

    func recordCompaction() {
        state.update { $0.compactedSegments += 1 }
    }

    public var blocks: Int { state.value.blocks }
    /// Sealed segments compacted behind ingest.
    public var compactedSegments: Int { state.value.compactedSegments }
    public var records: Int { state.value.records }
    public var bytes: Int { state.value.bytes }

    /// Returns once at least `count` records (raw and derived) have been written.
    public func wait(records count: Int) async {
        await state.wait { $0.records >= count }
    }

    /// Returns once at least `count` segments have been compacted.
    public func wait(compactedSegments count: Int) async {
        await state.wait { $0.compactedSegments >= count }
    }
}
