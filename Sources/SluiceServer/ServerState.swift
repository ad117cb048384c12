import Synchronization
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// What the routes share: the topology's pipeline, ingest edge and store, and the server's
/// live parts (stream, dashboard, self-metrics).
public final class ServerState: Sendable {
    public let pipeline: Pipeline
    public let edge: IngestEdge
    public let tokenMeter: TokenMeter
    public let broadcast: BroadcastSink
    /// Recent closed windows (and what the dashboard draws): queries read them too, since the
    /// newest may not have reached the store yet.
    public let dashboard: DashboardSink
    public let metrics: SelfMetrics
    /// `nil` without a data directory.
    public let store: Topology.Store?
    let ready = Atomic<Bool>(false)
    /// The configuration's policy, shown when there is no store to apply it to.
    private let configuredRetention: Configuration.Retention
    /// The pipeline's window lengths (`pipeline.windows`), ascending: which lengths a step
    /// query reads, and how far before a time range a window that ends inside it may start.
    let windowLengths: [WindowDuration]

    init(topology: Topology, broadcast: BroadcastSink, dashboard: DashboardSink, metrics: SelfMetrics, cluster: ClusterNode? = nil) {
        self.cluster = cluster
        pipeline = topology.pipeline
        edge = topology.edge
        tokenMeter = topology.tokenMeter
        store = topology.store
        configuredRetention = topology.configuration.retention
        windowLengths = topology.configuration.pipeline.windows.sorted()
        self.broadcast = broadcast
        self.dashboard = dashboard
        self.metrics = metrics
    }

    /// In a cluster, the node: windows come from each partition's owner.
    public let cluster: ClusterNode?

    /// The windows this node's own pipeline holds.
    var localWindows: WindowSource { WindowSource(reader: reader, dashboard: dashboard, pipeline: pipeline) }

    public var directory: DataDirectory? { store?.directory }
    public var storeStatistics: StoreStatistics? { store?.statistics }
    /// Whether the store can write; `nil` without a store.
    public var storeHealth: StoreHealth? { store?.health }
    var reader: StoreReader? { store?.reader }
    var segmentBytes: Int { store?.segmentBytes ?? 0 }
    /// Periodic retention runs finished (pruned, refused or failed) since start.
    public var retentionRuns: Watched<Int> { store?.retentionRuns ?? Watched(0) }

    var retentionPolicy: Configuration.Retention { store?.retention ?? configuredRetention }

    func setRetention(_ policy: Configuration.Retention) { store?.setRetention(policy) }

    /// Stored records matching `query` (with `combined`, a window stored in parts answered as
    /// one), read on the blocking pool: a scan reads segment files for as long as the disk
    /// takes. None without a store.
    func storedRecords(_ query: StoreQuery, combined: Bool = false) async throws -> [StoredRecord] {
        // In a cluster, the stores are the partitions' owners'.
        if let cluster { return try await cluster.storedRecords(query, combined: combined) }
        guard let reader else { return [] }
        return try await BlockingWork.run { () throws(StoreError) in
            combined ? try reader.combinedRecords(query) : try reader.records(query)
        }
    }

    /// The token meter's open days and months, of `tenantID` or of every tenant: this node's,
    /// or in a cluster, every partition owner's.
    func tokenUsage(tenantID: String?) async throws -> [TokenUsageSummary] {
        if let cluster { return try await cluster.tokenUsage(tenantID: tenantID) }
        return await tokenMeter.usage(tenantID: tenantID)
    }

    /// Windows of another directory of the store (a tier) rolled up to `step` as they are
    /// read, on the blocking pool.
    func rolledUp(_ query: StoreQuery, in directory: DataDirectory, step: WindowDuration) async throws(StoreError) -> WindowRollup.Accumulator {
        let reader = StoreReader(directory: directory)
        return try await BlockingWork.run { () throws(StoreError) in try reader.rolledUp(query, step: step) }
    }

    /// The pruner for the current policy; `nil` without a store.
    var pruner: RetentionPruner? { store?.pruner }

    /// Waits until every record taken before the call has been through the window aggregator
    /// and every window those records closed has reached the sinks queries read (the recent
    /// windows; the store reads its own), or until `timeout` passes on `clock`. Returns whether
    /// it settled. A `202` means the records are in the pipeline, not yet aggregated: a client
    /// that queries right after posting waits here for its windows (`?settle=`).
    public func settle<C: Clock>(within timeout: Duration, clock: C) async -> Bool where C.Duration == Duration {
        let taken = pipeline.counters.snapshot.records
        let progress = pipeline.progress
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await progress.settled(through: taken)
                return !Task.isCancelled
            }
            group.addTask {
                try? await clock.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
