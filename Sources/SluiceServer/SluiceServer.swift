import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// `sluice serve` put together: one pipeline fed by HTTP, TCP and UDP, with its store, token
/// meter, anomaly detector, retention pruner and live stream, run as a service group that shuts
/// down in order on SIGINT/SIGTERM: listeners first, then the pipeline drains, the store syncs.
public struct SluiceServer: Sendable {
    public struct Options: Sendable {
        public var http: HostPort?
        public var tcp: HostPort?
        public var udp: HostPort?
        public var dataDirectory: String?
        public init(http: HostPort?, tcp: HostPort?, udp: HostPort?, dataDirectory: String?) {
            self.http = http
            self.tcp = tcp
            self.udp = udp
            self.dataDirectory = dataDirectory
        }
    }

    /// Where the listeners ended up (port 0 asks for any free port).
    public struct Bound: Sendable {
        public var http: Int?
        public var tcp: Int?
        public var udp: Int?
    }

    public let state: ServerState
    let group: ServiceGroup
    let lock: DirectoryLock?

    /// Builds everything; fails with a message a person can act on.
    public init(configuration: Configuration, options: Options, logger: Logger,
                bound: @escaping @Sendable (Bound) -> Void = { _ in }) throws {
        let authenticator = Authenticator(tokens: configuration.auth.tokens)
        if authenticator.isOpen {
            for (name, address) in [("HTTP", options.http), ("TCP", options.tcp), ("UDP", options.udp)] {
                if let address, !address.isLoopback {
                    throw ServerError("no auth.tokens are configured, so \(name) may only listen on loopback (127.0.0.1 or ::1), not \(address); add tokens to the configuration or bind to loopback")
                }
            }
        }

        var directory: DataDirectory?
        var lock: DirectoryLock?
        var writer: (any StoreStage)?
        var tokenState: TokenMeterStateFile?
        let statistics = StoreStatistics()
        let health = StoreHealth()
        var retention = configuration.retention
        var writerConfiguration = SegmentWriter<ContinuousClock>.Configuration(configuration)
        // A server keeps running through a full disk: it holds what it took, refuses more with
        // 507, and writes again once there is room.
        writerConfiguration.onWriteFailure = .retry(every: max(writerConfiguration.flushInterval, .milliseconds(100)))
        if let path = options.dataDirectory {
            let d = try DataDirectory(path: path, create: true)
            lock = try d.lock()
            directory = d
            writer = SegmentWriter(configuration: writerConfiguration, directory: d, clock: ContinuousClock(), statistics: statistics, health: health) { message in
                logger.warning("\(message)")
            }
            tokenState = try TokenMeterStateFile(directory: d)
            if let saved = try RetentionRoutes.saved(in: d) { retention = saved }
        }

        let counters = PipelineCounters()
        let tokenMeter = try TokenMeter(configuration: configuration.tokenMeterConfiguration, persistence: tokenState, counters: counters) { message in
            logger.notice("\(message)")
        }
        var stages: [any EventStage] = []
        if configuration.anomaly.enabled {
            stages.append(AnomalyDetector(configuration: configuration.anomalyConfiguration, counters: counters))
        }
        stages.append(tokenMeter)
        let broadcast = BroadcastSink()
        let dashboard = DashboardSink()
        let pipeline = Pipeline(
            configuration: .init(aggregator: .init(windows: configuration.pipeline.windows, lateness: configuration.pipeline.lateness),
                                 channelCapacity: configuration.pipeline.channelCapacity, emitSummary: false),
            // The dashboard first: by the time a stream event goes out, queries can see its window.
            stages: stages, sinks: [dashboard, broadcast], store: writer, counters: counters)
        let state = ServerState(pipeline: pipeline, tokenMeter: tokenMeter, broadcast: broadcast, dashboard: dashboard, metrics: SelfMetrics(), directory: directory,
                                storeStatistics: directory == nil ? nil : statistics, storeHealth: directory == nil ? nil : health, retention: retention, segmentBytes: writerConfiguration.segmentBytes)
        self.state = state
        self.lock = lock

        var decoder = NDJSONDecoder.Configuration()
        decoder.maximumLineBytes = configuration.ingest.maxLineBytes
        decoder.maximumLabels = configuration.ingest.maxLabels
        var ingest = HTTPIngestSettings()
        ingest.maxBodyBytes = configuration.server.maxBodyBytes
        ingest.enqueueTimeout = .microseconds(configuration.server.enqueueTimeout.microseconds)
        ingest.waitForDurability = directory != nil && configuration.store.fsync == .always
        ingest.recordsPerSecond = configuration.server.tenantRecordsPerSecond
        ingest.decoder = decoder

        let boundPorts = BoundPorts(expected: [options.http, options.tcp, options.udp].compactMap { $0 }.count, report: bound)
        var services: [any Service] = [PipelineService(pipeline: pipeline, state: state)]
        if directory != nil {
            services.append(RetentionService(state: state, interval: .microseconds(retention.interval.microseconds), logger: logger))
        }
        if let tcp = options.tcp {
            services.append(TCPListener(host: tcp.host, port: tcp.port, pipeline: pipeline, decoder: decoder,
                                        maxConnections: configuration.server.maxConnections,
                                        idleTimeout: .microseconds(configuration.server.idleTimeout.microseconds), logger: logger) { boundPorts.set(tcp: $0) })
        }
        if let udp = options.udp {
            services.append(UDPListener(host: udp.host, port: udp.port, pipeline: pipeline, decoder: decoder, logger: logger) { boundPorts.set(udp: $0) })
        }
        if let http = options.http {
            let router = SluiceRoutes.router(state: state, authenticator: authenticator, ingest: ingest) { router in
                DashboardRoutes(state: state).register(router)
            }
            // The same limits as the TCP listener: past `max_connections` the server stops
            // accepting (new connections wait in the backlog) until one closes, and a connection
            // with no request for `idle_timeout` is closed (a response in progress, such as the
            // live stream, is never idle).
            let app = Application(
                router: router,
                server: .http1(configuration: .init(idleTimeout: .microseconds(configuration.server.idleTimeout.microseconds))),
                configuration: .init(address: .hostname(http.host, port: http.port), serverName: "sluice",
                                     availableConnectionsDelegate: MaximumAvailableConnections(configuration.server.maxConnections, logger: logger)),
                onServerRunning: { channel in
                    state.ready.store(true, ordering: .releasing)
                    boundPorts.set(http: channel.localAddress?.port ?? http.port)
                },
                logger: logger)
            services.append(app)
            // Shut down first: ends the SSE streams, which would otherwise hold the HTTP server open.
            services.append(StreamCloser(broadcast: broadcast))
        } else {
            state.ready.store(true, ordering: .releasing)
        }
        group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }

    /// Runs until SIGINT/SIGTERM (or `shutdown()`), then drains and returns.
    public func run() async throws {
        defer { lock?.release() }
        try await group.run()
    }

    /// Starts a graceful shutdown (tests; signals do the same).
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}

/// A server that cannot start as configured.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs the pipeline; on shutdown, ends its input and waits for everything in flight to drain.
struct PipelineService: Service {
    let pipeline: Pipeline
    let state: ServerState

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            state.ready.store(false, ordering: .releasing)
            state.storeHealth?.stop()
            pipeline.input.finish()
        }
    }
}

/// On shutdown, ends every live stream so the HTTP server can finish its requests.
struct StreamCloser: Service {
    let broadcast: BroadcastSink

    func run() async throws {
        try? await gracefulShutdown()
        broadcast.closeSubscribers()
    }
}

/// Applies the (current) retention policy every interval.
struct RetentionService: Service {
    let state: ServerState
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await loop()
        }
    }

    private func loop() async throws {
        while true {
            try await Task.sleep(for: interval)
            guard let pruner = state.pruner else { return }
            do {
                let report = try pruner.prune(now: Timestamp.now())
                state.metrics.pruned(report)
                if let refusal = report.refusal { logger.warning("retention skipped a mass delete", metadata: ["detail": "\(refusal)", "confirm": "POST /api/v2/analytics/retention/apply?confirm=true, or retention.allow_mass_delete: true"]) }
                for (key, value) in report.removed.sorted(by: { $0.key < $1.key }) {
                    logger.info("pruned", metadata: ["type": "\(key.type)", "tenant": "\(key.tenantID ?? "-")", "records": "\(value.records)",
                                                     "bytes": "\(value.bytes)", "reason": "\(key.reason)"])
                }
            } catch {
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
            state.retentionRuns.update { $0 += 1 }
        }
    }
}

/// Collects the listeners' ports and reports them once all are bound.
final class BoundPorts: Sendable {
    private let state: Mutex<(SluiceServer.Bound, Int)>
    private let expected: Int
    private let report: @Sendable (SluiceServer.Bound) -> Void

    init(expected: Int, report: @escaping @Sendable (SluiceServer.Bound) -> Void) {
        self.expected = expected
        self.report = report
        state = Mutex((SluiceServer.Bound(), 0))
    }

    func set(http: Int? = nil, tcp: Int? = nil, udp: Int? = nil) {
        let done = state.withLock { s -> SluiceServer.Bound? in
            if let http { s.0.http = http }
            if let tcp { s.0.tcp = tcp }
            if let udp { s.0.udp = udp }
            s.1 += 1
            return s.1 == expected ? s.0 : nil
        }
        if let done { report(done) }
    }
}

import Synchronization
