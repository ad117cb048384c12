import Synchronization
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// What the routes share: the pipeline, its live parts, the store and the retention policy.
public final class ServerState: Sendable {
    public let pipeline: Pipeline
    public let tokenMeter: TokenMeter
    public let broadcast: BroadcastSink
    /// Recent closed windows (and what the dashboard draws): queries read them too, since the
    /// newest may not have reached the store yet.
    public let dashboard: DashboardSink
    public let metrics: SelfMetrics
    public let directory: DataDirectory?
    public let storeStatistics: StoreStatistics?
    /// Whether the store can write; `nil` without a store.
    public let storeHealth: StoreHealth?
    let reader: StoreReader?
    private let retention: Mutex<Configuration.Retention>
    let segmentBytes: Int
    let ready = Atomic<Bool>(false)
    /// Periodic retention runs finished (pruned, refused or failed) since start.
    public let retentionRuns = Watched(0)

    init(pipeline: Pipeline, tokenMeter: TokenMeter, broadcast: BroadcastSink, dashboard: DashboardSink, metrics: SelfMetrics, directory: DataDirectory?,
         storeStatistics: StoreStatistics?, storeHealth: StoreHealth?, retention: Configuration.Retention, segmentBytes: Int) {
        self.pipeline = pipeline
        self.tokenMeter = tokenMeter
        self.broadcast = broadcast
        self.dashboard = dashboard
        self.metrics = metrics
        self.directory = directory
        self.storeStatistics = storeStatistics
        self.storeHealth = storeHealth
        self.reader = directory.map { StoreReader(directory: $0) }
        self.retention = Mutex(retention)
        self.segmentBytes = segmentBytes
    }

    var retentionPolicy: Configuration.Retention { retention.withLock { $0 } }

    func setRetention(_ policy: Configuration.Retention) { retention.withLock { $0 = policy } }

    /// Stored records matching `query` (with `combined`, a window stored in parts answered as
    /// one), read on the blocking pool: a scan reads segment files for as long as the disk
    /// takes. None without a store.
    func storedRecords(_ query: StoreQuery, combined: Bool = false) async throws(StoreError) -> [StoredRecord] {
        guard let reader else { return [] }
        return try await BlockingWork.run { () throws(StoreError) in
            combined ? try reader.combinedRecords(query) : try reader.records(query)
        }
    }

    /// The pruner for the current policy; `nil` without a store.
    var pruner: RetentionPruner? {
        directory.map { RetentionPruner(directory: $0, policy: RetentionPolicy(retentionPolicy), segmentBytes: segmentBytes) }
    }
}
