import Logging
import ServiceLifecycle
import Synchronization
import SluiceCluster
import SluiceConfig
import SluiceModel
import SluiceNATS
import SluicePipeline
import SluiceStore

/// One partition a cluster node owns: the ordinary topology (window aggregator, event stages,
/// its own store in `<data>/partitions/p<N>`), fed by a reader of the partition's subject in
/// the stream instead of by sockets (design §12).
///
/// The aggregator's checkpoints carry the stream sequence of the last record they include, so
/// a restart, or a later takeover by this node, reads on from there: the windows and that
/// sequence are one state, and no record is counted twice or lost. A node that has never held
/// the partition reads it from the start of the stream.
final class PartitionRuntime: Sendable {
    let partition: Int
    let topology: Topology
    /// The partition's recent closed windows, as the node-wide dashboard sink holds them for one node.
    let windows: DashboardSink
    let progress: PartitionProgress
    private let group: ServiceGroup

    init(partition: Int, configuration: Configuration, dataDirectory: String?, reader: PartitionReader.Settings, logger: Logger) throws {
        self.partition = partition
        let windows = DashboardSink()
        var options = Topology.Options(
            dataDirectory: dataDirectory.map { "\($0)/partitions/p\(partition)" }, ingestTime: { Timestamp.now() }, sinks: [windows]
        ) { message in
            logger.notice("partition \(partition): \(message)")
        }
        options.emitSummary = false
        options.keepRunningThroughWriteFailures = true
        topology = try Topology(configuration: configuration, options: options)
        progress = PartitionProgress(position: topology.resumedPosition, directory: topology.store?.directory)
        self.windows = windows
        let source = PartitionReader(settings: reader, partition: partition, pipeline: topology.pipeline, progress: progress, logger: logger)
        group = topology.group(sources: [source], logger: logger)
    }

    /// Runs until `stop()`: then the reader stops, the pipeline drains, and the open windows
    /// are checkpointed with the sequence they reach.
    func run() async throws {
        defer { topology.store?.release() }
        try await group.run()
    }

    func stop() async {
        await group.triggerGracefulShutdown()
    }

    /// Waits until every record the reader has taken is through the aggregator and every
    /// window they closed has reached the sinks queries read, or until `timeout`: so that a
    /// query right after the partition caught up sees it all.
    func settle(within timeout: Duration) async {
        let taken = progress.snapshot.records
        let pipeline = topology.pipeline
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await pipeline.progress.settled(through: taken) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// The windows this partition holds, as a single node answers a window query.
    var source: WindowSource {
        WindowSource(reader: topology.store?.reader, dashboard: windows, pipeline: topology.pipeline)
    }
}

/// How far a partition's reader has come, for `sluice cluster status` and the metrics.
final class PartitionProgress: Sendable {
    struct Snapshot: Sendable {
        /// The stream sequence of the last message taken (0: none yet).
        var position: UInt64
        /// Messages in the partition after it, when the last fetch came back.
        var lagMessages: UInt64 = 0
        /// How long ago the oldest message not yet taken was stored (0 when caught up).
        var lagSeconds: Double = 0
        var records: UInt64 = 0
        /// Messages that were not records and were skipped (logged each time).
        var unreadable: UInt64 = 0
        /// When the stream stored the last message taken (ns since the epoch), 0 before one.
        var published: Int64 = 0
        /// Whether a fetch has come back empty since the last message, so `lagMessages` is exact.
        var caughtUp = false
    }

    private let state: Mutex<Snapshot>
    /// The partition's store, whose checkpoint file's time `checkpointTime` reads.
    private let directory: DataDirectory?

    init(position: UInt64, directory: DataDirectory?) {
        state = Mutex(Snapshot(position: position))
        self.directory = directory
    }

    var snapshot: Snapshot { state.withLock { $0 } }
    var position: UInt64 { state.withLock { $0.position } }

    func took(position: UInt64, pending: UInt64, published: Int64, records: Int, unreadable: Int) {
        state.withLock {
            $0.position = position
            $0.lagMessages = pending
            $0.published = published
            $0.records += UInt64(records)
            $0.unreadable += UInt64(unreadable)
            $0.caughtUp = pending == 0
            $0.lagSeconds = pending == 0 ? 0 : max(0, Double(Timestamp.now().microseconds - published / 1_000) / 1e6)
        }
    }

    func caughtUp() {
        state.withLock {
            $0.lagMessages = 0
            $0.lagSeconds = 0
            $0.caughtUp = true
        }
    }

    /// When the open windows were last checkpointed, from the checkpoint file; `nil` without a
    /// store or before the first checkpoint.
    var checkpointTime: Timestamp? {
        guard let directory else { return nil }
        var info = stat()
        guard stat("\(directory.path)/\(WindowCheckpointFile.name)", &info) == 0 else { return nil }
        return Timestamp(microseconds: Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec) / 1_000)
    }
}

/// Reads one partition's subject from the stream into the partition's pipeline, with a
/// durable pull consumer of this node's own (`<node>_p<N>`) that starts after the position the
/// last checkpoint carried. Each fetched batch goes in as one record batch marked with its last
/// sequence, then is acknowledged.
struct PartitionReader: Service {
    struct Settings: Sendable {
        var jetStream: JetStream
        var stream: String
        var node: String
        var partitioning: Partitioning
        /// Messages per fetch.
        var batch = 256
    }

    let settings: Settings
    let partition: Int
    let pipeline: Pipeline
    let progress: PartitionProgress
    let logger: Logger

    var consumer: String { "\(settings.node)_p\(partition)" }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { () async throws -> Void in
            var wait = Duration.milliseconds(50)
            while !Task.isCancelled {
                do {
                    try await read(onProgress: { wait = .milliseconds(50) })
                } catch is PartitionReaderRestart {
                    continue
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("partition \(partition): reading the stream failed (\(error)); retrying in \(wait)")
                    try await Task.sleep(for: wait)
                    wait = min(wait * 2, .seconds(2))
                }
            }
        }
    }

    private func read(onProgress: () -> Void) async throws {
        let jetStream = settings.jetStream
        // Made afresh at this node's position: an old consumer of the same name may stand
        // elsewhere (this node's checkpoint is the only position that counts).
        try? await jetStream.deleteConsumer(stream: settings.stream, consumer: consumer)
        var configuration = JetStream.ConsumerConfiguration(durableName: consumer, filterSubject: settings.partitioning.subject(partition),
                                                            startSequence: progress.position + 1)
        configuration.acknowledgeAll = true
        _ = try await jetStream.ensureConsumer(stream: settings.stream, configuration)
        var position = progress.position
        var intern = InternTable()
        // The consumer's deliveries are numbered from 1. Acknowledging one acknowledges every
        // one before it, so a delivery lost on the way (a dropped connection, a pull given up
        // on) must never be followed by an acknowledgement: at a gap, or a redelivery, the
        // consumer is made afresh after the last position taken.
        var nextDelivery: UInt64 = 1
        while !Task.isCancelled {
            // What is there, at once; when nothing is, a long poll that ends at the next message
            // (a pull that waited for a whole batch would hold the partition's tail back).
            var fetched = try await jetStream.fetch(stream: settings.stream, consumer: consumer, batch: settings.batch, noWait: true)
            if fetched.isEmpty {
                progress.caughtUp()
                fetched = try await jetStream.fetch(stream: settings.stream, consumer: consumer, batch: 1, expires: .seconds(1))
            }
            var messages: [JetStreamMessage] = []
            var gap: JetStreamMessage?
            for message in fetched {
                guard message.consumerSequence == nextDelivery, message.deliveries == 1 else {
                    gap = message
                    break
                }
                nextDelivery += 1
                messages.append(message)
            }
            if let gap {
                logger.notice("partition \(partition): delivery \(gap.consumerSequence) (stream sequence \(gap.streamSequence), delivered \(gap.deliveries) times) where \(nextDelivery) was next; reading again after sequence \(max(position, messages.last?.streamSequence ?? 0))")
            }
            guard let last = messages.last else {
                if gap != nil { throw PartitionReaderRestart() }
                continue
            }
            onProgress()
            var records: [Record] = []
            var unreadable = 0
            for message in messages where message.streamSequence > position {
                do {
                    records += try ClusterPayload.decode(message.message.payload, intern: &intern)
                } catch {
                    unreadable += 1
                    logger.error("partition \(partition): stream message \(message.streamSequence) is not records (\(error)); skipped")
                }
            }
            guard last.streamSequence > position else {
                if gap != nil { throw PartitionReaderRestart() }
                continue
            }
            // The aggregator passes the records on to the store ahead of any checkpoint naming
            // their position, so none is kept before they are durable.
            try await pipeline.input.send(RecordBatch(records: records, position: last.streamSequence))
            position = last.streamSequence
            progress.took(position: position, pending: last.pending, published: last.published, records: records.count, unreadable: unreadable)
            try await last.acknowledge()
            if gap != nil { throw PartitionReaderRestart() }
        }
    }
}

/// A reader that saw a gap in its consumer's deliveries starts over after its position.
struct PartitionReaderRestart: Error, CustomStringConvertible {
    var description: String { "a delivery was missed; the consumer is made again after the last record taken" }
}

#if canImport(Glibc)
import Glibc
#endif
