import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// `sluice serve`: the topology with HTTP, TCP and UDP sources and the dashboard and live
/// stream as sinks, run as one service group that shuts down in order: sources first, then
/// the pipeline drains (open windows are checkpointed), then the store seals.
public struct SluiceServer: Sendable {
    public struct Options: Sendable {
        public var http: HostPort?
        public var tcp: HostPort?
        public var udp: HostPort?
        /// StatsD listeners; `nil` takes `ingest.statsd.udp` and `.tcp` (off when unset).
        public var statsdUDP: HostPort?
        public var statsdTCP: HostPort?
        public var dataDirectory: String?
        public init(http: HostPort?, tcp: HostPort?, udp: HostPort?, statsdUDP: HostPort? = nil, statsdTCP: HostPort? = nil, dataDirectory: String?) {
            self.http = http
            self.tcp = tcp
            self.udp = udp
            self.statsdUDP = statsdUDP
            self.statsdTCP = statsdTCP
            self.dataDirectory = dataDirectory
        }
    }

    /// Where the listeners ended up (port 0 asks for any free port).
    public struct Bound: Sendable {
        public var http: Int?
        public var tcp: Int?
        public var udp: Int?
        public var statsdUDP: Int?
        public var statsdTCP: Int?
    }

    public let state: ServerState
    /// Every HTTP route, as `METHOD /path` (`{name}` for a path parameter); none without HTTP.
    public private(set) var routes: [String] = []
    let topology: Topology
    let group: ServiceGroup

    /// Builds everything; fails with a message a person can act on.
    public init(configuration: Configuration, options: Options, logger: Logger,
                bound: @escaping @Sendable (Bound) -> Void = { _ in }) throws {
        let authenticator = Authenticator(tokens: configuration.auth.tokens)
        let statsdUDP = options.statsdUDP ?? configuration.ingest.statsd.udp.flatMap(HostPort.init)
        let statsdTCP = options.statsdTCP ?? configuration.ingest.statsd.tcp.flatMap(HostPort.init)
        if authenticator.isOpen {
            for (name, address) in [("HTTP", options.http), ("TCP", options.tcp), ("UDP", options.udp), ("StatsD UDP", statsdUDP), ("StatsD TCP", statsdTCP)] {
                if let address, !address.isLoopback {
                    throw ServerError("no auth.tokens are configured, so \(name) may only listen on loopback (127.0.0.1 or ::1), not \(address); add tokens to the configuration or bind to loopback")
                }
            }
        }

        let broadcast = BroadcastSink()
        let dashboard = DashboardSink()
        let metrics = SelfMetrics()
        // In a cluster, this node's own pipeline takes nothing: what the edge takes goes to the
        // stream, and each partition held here has its pipeline and store under the data directory.
        let cluster = configuration.cluster.isEnabled
            ? try ClusterNode(configuration: configuration, dataDirectory: options.dataDirectory, logger: logger) : nil
        // The dashboard first: by the time a stream event goes out, queries can see its window.
        var choice = Topology.Options(dataDirectory: cluster == nil ? options.dataDirectory : nil, ingestTime: { Timestamp.now() },
                                      sinks: [dashboard, broadcast]) { message in
            logger.notice("\(message)")
        }
        choice.emitSummary = false
        choice.keepRunningThroughWriteFailures = true
        choice.forwarder = cluster?.forwarder
        choice.edge = .server(configuration, waitForDurability: cluster == nil && options.dataDirectory != nil && configuration.store.fsync == .always)
        choice.pruned = { result in
            switch result {
            case .success(let report):
                metrics.pruned(report)
                if let refusal = report.refusal {
                    logger.warning("retention skipped a mass delete", metadata: ["detail": "\(refusal)", "confirm": "POST /api/v2/analytics/retention/apply?confirm=true, or retention.allow_mass_delete: true"])
                }
                for (key, value) in report.removed.sorted(by: { $0.key < $1.key }) {
                    logger.info("pruned", metadata: ["type": "\(key.type)", "tenant": "\(key.tenantID ?? "-")", "records": "\(value.records)",
                                                     "bytes": "\(value.bytes)", "reason": "\(key.reason)"])
                }
            case .failure(let error):
                logger.error("retention failed", metadata: ["error": "\(error)"])
            }
        }
        let topology = try Topology(configuration: configuration, options: choice)
        let state = ServerState(topology: topology, broadcast: broadcast, dashboard: dashboard, metrics: metrics, cluster: cluster)
        self.state = state
        self.topology = topology

        // The sources: one line each.
        let boundPorts = BoundPorts(expected: [options.http, options.tcp, options.udp, statsdUDP, statsdTCP].compactMap { $0 }.count, report: bound)
        var sources: [any Service] = []
        // First, so that it stops after every listener: what they took reaches the stream.
        if let cluster { sources.append(cluster) }
        if let tcp = options.tcp {
            sources.append(TCPSource(host: tcp.host, port: tcp.port, edge: topology.edge, maxConnections: configuration.server.maxConnections,
                                     idleTimeout: .microseconds(configuration.server.idleTimeout.microseconds), logger: logger) { boundPorts.set(tcp: $0) })
        }
        if let udp = options.udp {
            sources.append(UDPSource(host: udp.host, port: udp.port, edge: topology.edge, logger: logger) { boundPorts.set(udp: $0) })
        }
        if statsdUDP != nil || statsdTCP != nil {
            let statsd = StatsDIngest(
                configuration: .init(tenantID: configuration.ingest.statsd.tenant, setInterval: configuration.pipeline.windows.min()!,
                                     maximumLabels: topology.edge.configuration.decoder.maximumLabels,
                                     maximumLineBytes: topology.edge.configuration.decoder.maximumLineBytes),
                edge: topology.edge, clock: ContinuousClock(), logger: logger)
            // Before the listeners, so that it stops after them and sends every set they filled.
            sources.append(StatsDSetFlusher(ingest: statsd, clock: ContinuousClock()))
            if let udp = statsdUDP {
                sources.append(StatsDUDPSource(host: udp.host, port: udp.port, ingest: statsd) { boundPorts.set(statsdUDP: $0) })
            }
            if let tcp = statsdTCP {
                sources.append(StatsDTCPSource(host: tcp.host, port: tcp.port, ingest: statsd, maxConnections: configuration.server.maxConnections,
                                               idleTimeout: .microseconds(configuration.server.idleTimeout.microseconds)) {
                    boundPorts.set(statsdTCP: $0)
                })
            }
        }
        if let http = options.http {
            let router = SluiceRoutes.router(state: state, authenticator: authenticator, maxBodyBytes: configuration.server.maxBodyBytes) { router in
                DashboardRoutes(state: state).register(router)
            }
            routes = router.routes.map { "\($0.method) \($0.path)" }
            // The same limits as the TCP source: past `max_connections` the server stops
            // accepting (new connections wait in the backlog) until one closes, and a connection
            // with no request for `idle_timeout` is closed (a response in progress, such as the
            // live stream, is never idle). Then HTTP's own: the head's size and field count
            // (431), and how long a request may take to arrive (408).
            let app = Application(
                router: router,
                server: HTTPLimits(configuration.server).serverBuilder,
                configuration: .init(address: .hostname(http.host, port: http.port), serverName: "sluice",
                                     availableConnectionsDelegate: MaximumAvailableConnections(configuration.server.maxConnections, logger: logger)),
                onServerRunning: { channel in
                    state.ready.store(true, ordering: .releasing)
                    let port = channel.localAddress?.port ?? http.port
                    cluster?.httpAddress.withLock { $0 = "\(http.host):\(port)" }
                    boundPorts.set(http: port)
                },
                logger: logger)
            sources.append(app)
            // Shut down first: ends the SSE streams, which would otherwise hold the HTTP server open.
            sources.append(StreamCloser(state: state))
        } else {
            state.ready.store(true, ordering: .releasing)
        }
        group = topology.group(sources: sources, logger: logger)
    }

    /// Runs until `shutdown()` (SIGINT/SIGTERM in the CLI), then drains and returns.
    public func run() async throws {
        defer { topology.store?.release() }
        try await group.run()
    }

    /// Starts a graceful shutdown.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}

/// A server that cannot start as configured.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// On shutdown, turns readiness off and ends every live stream so the HTTP server can finish
/// its requests.
struct StreamCloser: Service {
    let state: ServerState

    func run() async throws {
        try? await gracefulShutdown()
        state.ready.store(false, ordering: .releasing)
        state.broadcast.closeSubscribers()
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

    func set(http: Int? = nil, tcp: Int? = nil, udp: Int? = nil, statsdUDP: Int? = nil, statsdTCP: Int? = nil) {
        let done = state.withLock { s -> SluiceServer.Bound? in
            if let http { s.0.http = http }
            if let tcp { s.0.tcp = tcp }
            if let udp { s.0.udp = udp }
            if let statsdUDP { s.0.statsdUDP = statsdUDP }
            if let statsdTCP { s.0.statsdTCP = statsdTCP }
            s.1 += 1
            return s.1 == expected ? s.0 : nil
        }
        if let done { report(done) }
    }
}

import Synchronization
