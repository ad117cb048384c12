import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import SluiceCluster
import SluiceConfig
import SluiceModel
import SluiceNATS
import SluicePipeline
import SluiceStore

/// `sluice serve` as one node of a cluster (design §12).
///
/// Any node takes ingest: its edge forwards what it takes to the stream (`ClusterForwarder`).
/// Partitions are held through leases; for each partition it holds, the node runs the
/// ordinary pipeline fed from the stream (`PartitionRuntime`), and stops it when the lease goes.
/// A window query is answered from the partitions' owners: this node's own runtimes and, over
/// NATS request/reply, the other nodes'.
public final class ClusterNode: Service, Sendable {
    let configuration: Configuration
    let settings: Configuration.Cluster
    let node: String
    let partitioning: Partitioning
    let dataDirectory: String?
    let logger: Logger
    let forwarder = ClusterForwarder()
    /// The data directory's lock, held for the node's life: two nodes must not share one.
    let directoryLock: DirectoryLock?
    /// Where this node's HTTP API listens, for `sluice cluster status` (set once bound).
    let httpAddress = Mutex<String?>(nil)

    private struct Running: Sendable {
        var client: NATSClient
        var leases: PartitionLeases
    }

    private struct State: Sendable {
        var running: Running?
        /// The partitions whose pipelines run here, and the tasks that run them.
        var runtimes: [Int: (runtime: PartitionRuntime, task: Task<Void, Never>)] = [:]
        /// Partitions gained and lost since start.
        var leaseChanges: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(configuration: Configuration, dataDirectory: String?, logger: Logger) throws {
        guard let node = configuration.cluster.nodeID, configuration.cluster.nats != nil else {
            throw ServerError("cluster.nats and cluster.node_id are both needed to run as a cluster node")
        }
        self.configuration = configuration
        settings = configuration.cluster
        self.node = node
        partitioning = Partitioning(partitions: configuration.cluster.partitions)
        self.dataDirectory = dataDirectory
        self.logger = logger
        do {
            directoryLock = try dataDirectory.map { try DataDirectory(path: $0, create: true).lock() }
        } catch {
            throw ServerError("--data-dir \(dataDirectory ?? ""): \(error); each node of a cluster needs a data directory of its own")
        }
        if dataDirectory == nil {
            logger.warning("cluster node \(node) runs without a data directory: a partition taken again is read from the start of the stream")
        }
    }

    var leaseTTL: Duration { .microseconds(settings.leaseTTL.microseconds) }

    /// Connects (retrying until the server answers), then holds leases, runs the partitions
    /// held and answers other nodes' queries until shutdown. On shutdown each partition stops
    /// and checkpoints, and the leases are given back.
    public func run() async throws {
        defer { directoryLock?.release() }
        guard let client = await connect() else { return }
        defer { forwarder.attach(nil) }
        var failure: (any Error)?
        do {
            try await cancelWhenGracefulShutdown { try await self.serve(client) }
        } catch {
            if !Task.isShuttingDownGracefully { failure = error }
        }
        let stopping = state.withLock { s in
            defer { s.runtimes = [:]; s.running = nil }
            return Array(s.runtimes.values)
        }
        for (runtime, task) in stopping {
            await runtime.stop()
            await task.value
        }
        await client.close()
        // The server stops with it: a node that cannot use the stream (JetStream off, a
        // stream of that name with other subjects) must say so, not run without the cluster.
        if let failure { throw ServerError("cluster node \(node) cannot run on \(settings.nats!): \(failure)") }
    }

    private func connect() async -> NATSClient? {
        var wait = Duration.milliseconds(100)
        var client = NATSClient.Configuration(url: settings.nats!, name: "sluice \(node)")
        client.requestTimeout = max(.seconds(5), leaseTTL)
        let configuration = client
        while true {
            do {
                return try await cancelWhenGracefulShutdown { try await NATSClient.connect(configuration) }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return nil }
                logger.warning("cannot reach the NATS server at \(settings.nats!): \(error); retrying in \(wait)")
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(5))
            }
        }
    }

    private func serve(_ client: NATSClient) async throws {
        let jetStream = JetStream(client: client)
        let duplicateWindow = min(Duration.microseconds(configuration.server.idempotencyWindow.microseconds), .seconds(3_600))
        let publisher = try await ClusterPublisher.open(jetStream, stream: settings.stream, partitioning: partitioning, duplicateWindow: duplicateWindow)
        let leases = try await PartitionLeases.open(
            jetStream, .init(node: node, partitions: settings.partitions, ttl: leaseTTL, prefix: settings.stream),
            heartbeat: { [weak self] in self?.heartbeat() ?? [] })
        let queries = try await client.subscribe(ClusterQuery.subject(stream: settings.stream, node: node))
        defer { queries.unsubscribe() }
        state.withLock { $0.running = Running(client: client, leases: leases) }
        forwarder.attach(publisher)
        logger.notice("cluster node \(node) joined: stream \(settings.stream), \(settings.partitions) partitions, lease TTL \(leaseTTL)")
        let reader = PartitionReader.Settings(jetStream: jetStream, stream: settings.stream, node: node, partitioning: partitioning)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await leases.run() }
            group.addTask {
                for await owned in leases.ownership { await self.hold(Set(owned), reader: reader) }
            }
            group.addTask {
                await withTaskGroup(of: Void.self) { answers in
                    for await message in queries {
                        answers.addTask { await self.answer(message, client: client) }
                    }
                }
            }
        }
    }

    /// Starts a pipeline for each partition gained and stops the ones for partitions lost.
    private func hold(_ owned: Set<Int>, reader: PartitionReader.Settings) async {
        let (lost, missing) = state.withLock { s -> ([(PartitionRuntime, Task<Void, Never>)], [Int]) in
            let lost = s.runtimes.filter { !owned.contains($0.key) }
            for p in lost.keys { s.runtimes[p] = nil }
            return (Array(lost.values), owned.filter { s.runtimes[$0] == nil }.sorted())
        }
        for (runtime, task) in lost {
            logger.notice("partition \(runtime.partition) moved away; checkpointing and stopping it")
            state.withLock { $0.leaseChanges += 1 }
            await runtime.stop()
            await task.value
        }
        for partition in missing {
            guard !Task.isCancelled else { return }
            do {
                let runtime = try PartitionRuntime(partition: partition, configuration: configuration, dataDirectory: dataDirectory,
                                                   reader: reader, logger: logger)
                let task = Task {
                    do {
                        try await runtime.run()
                    } catch {
                        self.logger.error("partition \(partition) stopped: \(error)")
                    }
                    // Ended on its own: the next round starts it again if the lease is still here.
                    self.state.withLock { s in if s.runtimes[partition]?.runtime === runtime { s.runtimes[partition] = nil } }
                }
                state.withLock {
                    $0.runtimes[partition] = (runtime, task)
                    $0.leaseChanges += 1
                }
                logger.notice("partition \(partition) taken: reading the stream after sequence \(runtime.progress.position)")
            } catch {
                logger.error("partition \(partition) cannot start: \(error); trying again next lease round")
            }
        }
    }

    // MARK: Queries

    /// The runtimes of the partitions this node holds a lease on now.
    private var held: [Int: PartitionRuntime] {
        let owned = Set(state.withLock { $0.running?.leases.owned } ?? [])
        return state.withLock { s in s.runtimes.filter { owned.contains($0.key) }.mapValues(\.runtime) }
    }

    func windows(_ filter: WindowQuery.Filter) async throws -> [WindowSummary] {
        var out: [WindowSummary] = []
        for record in try await gather(tenant: filter.tenant, ClusterQuery.Request(filter, visits: false, partitions: [])) {
            if case .output(.window(let w)) = record { out.append(w) }
        }
        return out.sorted { ($0.span, $0.series) < ($1.span, $1.series) }
    }

    func visits(_ filter: WindowQuery.Filter) async throws -> [VisitsWindowSummary] {
        var out: [VisitsWindowSummary] = []
        for record in try await gather(tenant: filter.tenant, ClusterQuery.Request(filter, visits: true, partitions: [])) {
            if case .output(.visitsWindow(let v)) = record { out.append(v) }
        }
        return out.sorted { ($0.span, $0.tenantID ?? "") < ($1.span, $1.tenantID ?? "") }
    }

    /// What the stores of every partition `query` can touch hold for it (with `combined`, a
    /// window stored in parts answered as one), from the partitions' owners.
    func storedRecords(_ query: StoreQuery, combined: Bool) async throws -> [StoredRecord] {
        try await gather(tenant: query.tenantID, ClusterQuery.Request(query, combined: combined, partitions: []))
    }

    /// The token meters' open days and months, of `tenantID` or of every tenant.
    func tokenUsage(tenantID: String?) async throws -> [TokenUsageSummary] {
        var out: [TokenUsageSummary] = []
        for case .output(.tokenUsage(let u)) in try await gather(tenant: tenantID, ClusterQuery.Request(tokensOf: tenantID, partitions: [])) {
            out.append(u)
        }
        return out.sorted { ($0.tenantID, $0.model, $0.period, $0.start) < ($1.tenantID, $1.model, $1.period, $1.start) }
    }

    /// What `request` asks of the partitions it can touch (one, for a tenant), from their
    /// owners. Partitions are disjoint by tenant, so the answers only add up. Fails with `503`
    /// when a partition has no owner, or its owner does not answer for it.
    private func gather(tenant: String?, _ request: ClusterQuery.Request) async throws -> [StoredRecord] {
        guard let running = state.withLock({ $0.running }) else {
            throw APIError(.serviceUnavailable, "cluster_unavailable", "this node is not connected to the cluster yet; retry")
        }
        let wanted = tenant.map { [partitioning.partition(tenant: $0)] } ?? Array(0..<settings.partitions)
        do {
            return try await gather(request, partitions: wanted, table: running.leases.lastTable, running: running)
        } catch let error as APIError where error.status == .serviceUnavailable {
            // The last round's table may be a round old: ownership may have moved since. Once
            // more on the table as it is now.
            let table: [Int: PartitionLeases.Lease]
            do { table = try await running.leases.table() } catch { throw error }
            return try await gather(request, partitions: wanted, table: table, running: running)
        }
    }

    private func gather(_ request: ClusterQuery.Request, partitions wanted: [Int], table: [Int: PartitionLeases.Lease],
                        running: Running) async throws -> [StoredRecord] {
        let local = held
        var remote: [String: [Int]] = [:]
        var mine: [PartitionRuntime] = []
        for partition in wanted {
            if let runtime = local[partition] {
                mine.append(runtime)
            } else if let owner = table[partition]?.owner, owner != node {
                remote[owner, default: []].append(partition)
            } else {
                throw APIError(.serviceUnavailable, "partition_unowned",
                               "partition \(partition) has no owner at the moment (a node joined or left); retry in \(settings.leaseTTL)", headers: [.retryAfter: "1"])
            }
        }
        let timeout = leaseTTL
        let stream = settings.stream
        return try await withThrowingTaskGroup(of: [StoredRecord].self) { group in
            for (owner, partitions) in remote {
                group.addTask {
                    var request = request
                    request.partitions = partitions
                    let answer: (records: [StoredRecord], answered: Set<Int>)
                    do {
                        answer = try await ClusterQuery.ask(running.client, stream: stream, node: owner, request: request, timeout: timeout)
                    } catch {
                        throw APIError(.serviceUnavailable, "partition_unavailable", "\(error); retry", headers: [.retryAfter: "1"])
                    }
                    if let gone = partitions.first(where: { !answer.answered.contains($0) }) {
                        throw APIError(.serviceUnavailable, "partition_moving",
                                       "partition \(gone) is moving from node \(owner); retry in \(self.settings.leaseTTL)", headers: [.retryAfter: "1"])
                    }
                    return answer.records
                }
            }
            for runtime in mine {
                group.addTask { try await Self.records(runtime, request) }
            }
            var all: [StoredRecord] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// What `request` asks of one partition held here, once what its reader took has reached
    /// its windows.
    static func records(_ runtime: PartitionRuntime, _ request: ClusterQuery.Request) async throws -> [StoredRecord] {
        await runtime.settle(within: .seconds(2))
        if request.tokens {
            return await runtime.topology.tokenMeter.usage(tenantID: request.tenant).map { .output(.tokenUsage($0)) }
        }
        if let stored = request.stored {
            guard let reader = runtime.topology.store?.reader else { return [] }
            let query = stored.query
            return try await BlockingWork.run { () throws(StoreError) in
                stored.combined ? try reader.combinedRecords(query) : try reader.records(query)
            }
        }
        let source = runtime.source
        let filter = request.filter
        return request.visits ? try await source.visits(filter).map { .output(.visitsWindow($0)) } : try await source.windows(filter).map { .output(.window($0)) }
    }

    /// Answers another node's query for the partitions it asks about that this node holds.
    private func answer(_ message: NATSMessage, client: NATSClient) async {
        guard let reply = message.replyTo else { return }
        let maximumPayload = (client.serverInfo?.maximumPayload ?? 1 << 20) - 1_024
        do {
            let request = try JSONDecoder().decode(ClusterQuery.Request.self, from: Data(message.payload))
            let local = held
            let answered = request.partitions.filter { local[$0] != nil }
            var records: [StoredRecord] = []
            for partition in answered {
                records += try await Self.records(local[partition]!, request)
            }
            for part in try ClusterQuery.answer(records, answered: answered, tokens: request.tokens, maximumPayload: maximumPayload) {
                try client.publish(reply, payload: part.payload, headers: part.headers)
            }
        } catch {
            try? client.publish(reply, headers: ClusterQuery.failure("\(error)"))
        }
    }

    // MARK: Status

    /// What the heartbeat carries: this node's address and each partition's progress.
    func heartbeat() -> [UInt8] {
        let runtimes = state.withLock { $0.runtimes.mapValues(\.runtime) }
        let status = ClusterStatus.Node(
            node: node, http: httpAddress.withLock { $0 },
            partitions: runtimes.keys.sorted().map { p in
                let runtime = runtimes[p]!
                let progress = runtime.progress.snapshot
                var row = ClusterStatus.Partition(partition: p, owner: node, position: progress.position, lagMessages: progress.lagMessages,
                                                  lagSeconds: progress.lagSeconds, records: progress.records,
                                                  checkpoint: runtime.progress.checkpointTime.map { "\($0)" })
                row.caughtUp = progress.caughtUp
                return row
            })
        return Array((try? JSONEncoder().encode(status)) ?? Data())
    }

    /// The cluster's lines for `/metrics`: partitions held, lease changes, and each partition's lag.
    func scrape() -> [UInt8] {
        let (owned, changes, runtimes) = state.withLock { s in (s.running?.leases.owned.count ?? 0, s.leaseChanges, s.runtimes.mapValues(\.runtime)) }
        var text = """
            # HELP sluice_cluster_partitions_owned Partitions whose lease this node holds.
            # TYPE sluice_cluster_partitions_owned gauge
            sluice_cluster_partitions_owned{node="\(node)"} \(owned)
            # HELP sluice_cluster_lease_changes_total Partitions this node has taken or given up since it started.
            # TYPE sluice_cluster_lease_changes_total counter
            sluice_cluster_lease_changes_total{node="\(node)"} \(changes)
            # HELP sluice_cluster_forwarded_records_total Records this node took and the stream acknowledged.
            # TYPE sluice_cluster_forwarded_records_total counter
            sluice_cluster_forwarded_records_total{node="\(node)"} \(forwarder.forwarded.load(ordering: .relaxed))
            # HELP sluice_cluster_partition_lag_messages Messages stored for a partition held here and not taken yet.
            # TYPE sluice_cluster_partition_lag_messages gauge

            """
        let rows = runtimes.keys.sorted().map { ($0, runtimes[$0]!.progress.snapshot) }
        for (p, progress) in rows { text += "sluice_cluster_partition_lag_messages{partition=\"\(p)\"} \(progress.lagMessages)\n" }
        text += """
            # HELP sluice_cluster_partition_lag_seconds How long ago the oldest message not yet taken was stored.
            # TYPE sluice_cluster_partition_lag_seconds gauge

            """
        for (p, progress) in rows { text += "sluice_cluster_partition_lag_seconds{partition=\"\(p)\"} \(progress.lagSeconds)\n" }
        text += """
            # HELP sluice_cluster_partition_position Stream sequence of the last message a partition held here took.
            # TYPE sluice_cluster_partition_position gauge

            """
        for (p, progress) in rows { text += "sluice_cluster_partition_position{partition=\"\(p)\"} \(progress.position)\n" }
        text += """
            # HELP sluice_cluster_unreadable_messages_total Stream messages of a partition held here that were not records (logged, skipped).
            # TYPE sluice_cluster_unreadable_messages_total counter

            """
        for (p, progress) in rows { text += "sluice_cluster_unreadable_messages_total{partition=\"\(p)\"} \(progress.unreadable)\n" }
        return Array(text.utf8)
    }

    /// The cluster's status as NATS has it now.
    func status() async throws -> ClusterStatus {
        guard let client = state.withLock({ $0.running?.client }) else {
            throw APIError(.serviceUnavailable, "cluster_unavailable", "this node is not connected to the cluster yet; retry")
        }
        return try await ClusterStatus.read(JetStream(client: client), stream: settings.stream, partitions: settings.partitions, leaseTTL: leaseTTL)
    }
}
