import Logging
import ServiceLifecycle
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// Every command's pipeline, assembled one way from the configuration (design §8):
///
/// ```
/// sources → ingest edge → window aggregator → event stages → sinks
///                └─ raw records ─→ store ←─ closed windows, checkpoints
///                                    └─ retention
/// ```
///
/// `run`, `replay`, `tail` and `serve` differ only in the sources and sinks they choose. Every
/// long-running part is a `Service`; `group(sources:)` runs them in one `ServiceGroup` whose
/// graceful shutdown goes in order: sources stop, the pipeline drains, the store seals.
public struct Topology: Sendable {
    /// What a command chooses.
    public struct Options: Sendable {
        /// Where to store raw records and windows; `nil` stores nothing.
        public var dataDirectory: String?
        /// `nil` for replay: time comes from the records alone, so a record without a timestamp
        /// is an error, blocks are cut by size, and retention does not run.
        public var ingestTime: (@Sendable () -> Timestamp)?
        public var sinks: [any Sink]
        /// End the output with a `summary` record.
        public var emitSummary = true
        public var edge = IngestEdge.Configuration()
        /// What the store does when the disk refuses a write (a server keeps running).
        public var keepRunningThroughWriteFailures = false
        /// Sees every batch of raw records as the edge takes it (`tail`'s rolling windows).
        public var recordTap: (@Sendable ([Record]) -> Void)?
        /// Store, retention and restart messages (stderr for the CLI, the log for `serve`).
        public var report: @Sendable (String) -> Void
        /// In a cluster node's front: where taken records go instead of this pipeline.
        public var forwarder: (any IngestForwarder)?
        /// What each periodic retention run came to.
        public var pruned: @Sendable (Result<RetentionPruner.Report, StoreError>) -> Void = { _ in }

        public init(dataDirectory: String?, ingestTime: (@Sendable () -> Timestamp)?, sinks: [any Sink],
                    report: @escaping @Sendable (String) -> Void) {
            self.dataDirectory = dataDirectory
            self.ingestTime = ingestTime
            self.sinks = sinks
            self.report = report
        }
    }

    public let configuration: Configuration
    public let pipeline: Pipeline
    public let edge: IngestEdge
    public let tokenMeter: TokenMeter
    /// `nil` without a data directory.
    public let store: Store?
    /// The input position the last checkpoint carried (0: none): where a reader of a
    /// cluster partition's stream resumes after.
    public let resumedPosition: UInt64
    let services: [any Service]

    public init(configuration: Configuration, options: Options) throws {
        self.configuration = configuration
        let live = options.ingestTime != nil
        let store = try options.dataDirectory.map {
            try Store(path: $0, configuration: configuration, live: live, keepRunning: options.keepRunningThroughWriteFailures, report: options.report)
        }
        let counters = PipelineCounters()
        tokenMeter = try TokenMeter(configuration: configuration.tokenMeterConfiguration, persistence: store?.tokenState,
                                    counters: counters, report: options.report)
        var stages: [any EventStage] = []
        if configuration.anomaly.enabled {
            stages.append(try AnomalyDetector(configuration: configuration.anomalyConfiguration, counters: counters,
                                              persistence: store?.anomalyState, report: options.report))
        }
        stages.append(tokenMeter)
        let aggregator = WindowAggregator.Configuration(windows: configuration.pipeline.windows, lateness: configuration.pipeline.lateness)
        let resumption = try store?.resumption(configuration: aggregator, report: options.report)
        resumedPosition = resumption?.machine.position ?? 0
        pipeline = Pipeline(
            configuration: .init(aggregator: aggregator, channelCapacity: configuration.pipeline.channelCapacity, emitSummary: options.emitSummary),
            stages: stages, sinks: options.sinks, store: store?.writer, counters: counters, resuming: resumption)
        edge = IngestEdge(configuration: options.edge, pipeline: pipeline, health: store?.health, clock: ContinuousClock(),
                          ingestTime: options.ingestTime, tap: options.recordTap, forwarder: options.forwarder)
        if let keys = edge.keys, let store {
            // The keys whose records survived, from the receipts stored beside them.
            let now = edge.now().microseconds
            let receipts = try store.directory.receipts(since: now - keys.window)
            keys.restore(receipts, now: now)
            if !receipts.isEmpty { options.report("restored \(receipts.count) idempotency keys") }
        }
        var services: [any Service] = [PipelineService(pipeline: pipeline, store: store, live: live)]
        if let store, live {
            services.append(RetentionService(store: store, interval: .microseconds(store.retention.interval.microseconds), clock: ContinuousClock(), report: options.pruned))
            services.append(CheckpointService(pipeline: pipeline, interval: .microseconds(configuration.pipeline.checkpointInterval.microseconds), clock: ContinuousClock()))
        }
        self.services = services
        self.store = store
    }

    /// The service group that runs this topology with `sources` (in that order; they shut
    /// down first, in reverse). A source that ends on its own (end of input) shuts the group
    /// down gracefully, so what it sent drains.
    public func group(sources: [any Service], logger: Logger) -> ServiceGroup {
        let entries = (services + sources).map {
            // Named by type: the default name describes the whole value by reflection, which
            // walks the pipeline's state and took longer than the first thousand records.
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                serviceName: String(describing: type(of: $0)))
        }
        return ServiceGroup(configuration: .init(services: entries, logger: logger))
    }
}

/// Runs the pipeline; on shutdown (after every source has stopped) ends its input with a
/// suspend, so open windows are checkpointed when there is a store, and waits for the drain.
/// Then the tiers roll up what the drain completed.
struct PipelineService: Service {
    let pipeline: Pipeline
    let store: Topology.Store?
    /// Wall-clock time (else the data's own, for the tiers' last roll-up).
    let live: Bool

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            store?.health.stop()
            pipeline.finishInput(.suspend)
        }
        // Every closed window is stored: the tiers take what is complete.
        await store?.maintainTiers(now: live ? Timestamp.now() : nil)
        // Drained at the end of the input: the shutdown that began then reaches this service
        // last, and a service group wants its services to end in that order.
        try? await gracefulShutdown()
    }
}

/// Asks the aggregator for a checkpoint of its open windows every interval, so `kill -9`
/// loses at most that much of them.
struct CheckpointService<C: Clock>: Service where C.Duration == Duration {
    let pipeline: Pipeline
    let interval: Duration
    let clock: C

    func run() async throws {
        try? await cancelWhenGracefulShutdown { () async throws -> Void in
            while true {
                try await clock.sleep(for: interval)
                try await pipeline.input.send(RecordBatch(records: [], checkpoint: true))
            }
        }
    }
}

extension IngestEdge.Configuration {
    /// The edge as `serve` runs it: the `server:` limits, and durable answers with `fsync: always`.
    public static func server(_ configuration: Configuration, waitForDurability: Bool) -> Self {
        var edge = IngestEdge.Configuration()
        edge.decoder = .ingest(configuration)
        edge.recordsPerSecond = configuration.server.tenantRecordsPerSecond
        edge.enqueueTimeout = .microseconds(configuration.server.enqueueTimeout.microseconds)
        edge.waitForDurability = waitForDurability
        edge.idempotencyWindow = .microseconds(configuration.server.idempotencyWindow.microseconds)
        return edge
    }

    /// The edge as the stream commands run it: the `ingest:` limits, and `--strict`.
    public static func stream(_ configuration: Configuration, strict: Bool) -> Self {
        var edge = IngestEdge.Configuration()
        edge.decoder = .ingest(configuration)
        edge.strict = strict
        return edge
    }
}

extension NDJSONDecoder.Configuration {
    /// The decoder with the `ingest:` limits.
    static func ingest(_ configuration: Configuration) -> Self {
        var decoder = NDJSONDecoder.Configuration()
        decoder.maximumLineBytes = configuration.ingest.maxLineBytes
        decoder.maximumLabels = configuration.ingest.maxLabels
        return decoder
    }
}
