import AsyncAlgorithms
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import SluiceModel
import SluicePipeline
import SluiceProtocols

/// The StatsD listeners' one `StatsDState` and their way into the ingest edge (design §10).
///
/// UDP and TCP share the state, so a gauge's `+`/`-` and a set's members mean the same
/// whichever socket they came by. The state is pure; this holds it under a lock, decodes
/// inside it, and does the async part (the edge, the counters) after it.
final class StatsDIngest: Sendable {
    /// The name the counters on `/metrics` carry: `sluice_protocol_*_total{protocol="statsd"}`.
    static let protocolName = "statsd"

    let state: Mutex<StatsDState>
    let edge: IngestEdge
    let logger: Logger
    private let sleep: @Sendable (Duration) async throws -> Void

    init<C: Clock>(configuration: StatsDState.Configuration, edge: IngestEdge, clock: C, logger: Logger) where C.Duration == Duration {
        state = Mutex(StatsDState(configuration: configuration))
        self.edge = edge
        self.logger = logger
        sleep = { try await clock.sleep(for: $0) }
    }

    /// Datagrams that arrived together, as one batch: StatsD clients send one metric per
    /// datagram, and a batch per datagram would fill the pipeline's few slots at once. A batch
    /// that finds the pipeline full waits for room up to `server.enqueue_timeout`, as an HTTP
    /// body does; the socket is not read meanwhile, so its receive buffer holds what arrives.
    /// Past the timeout (or over the rate limit, or while the store cannot write) the batch is
    /// dropped and counted (`udp_dropped_records`, and `protocol_dropped` for StatsD): UDP
    /// cannot tell the sender to slow down.
    func datagrams(_ datagrams: [AddressedEnvelope<ByteBuffer>]) async throws {
        let now = edge.now()
        var merged = StatsDState.Received()
        state.withLock { state in
            for datagram in datagrams {
                let received = datagram.data.withUnsafeReadableBytes { bytes in
                    state.receive(datagram: bytes.assumingMemoryBound(to: UInt8.self), now: now)
                }
                for record in received.batch.records { merged.batch.append(record) }
                for rejection in received.batch.rejections {
                    merged.batch.reject(rejection.line, rejection.error, source: "\(datagram.remoteAddress)")
                }
                merged.skipped += received.skipped
            }
        }
        count("requests", datagrams.count)
        count("skipped", merged.skipped)
        merged.batch.rejections.forEach { report($0, peer: $0.source ?? "?") }
        count("rejected", merged.batch.rejections.count)
        guard !merged.batch.isEmpty else { return }
        do throws(IngestRefusal) {
            let submission = try await edge.submit(merged.batch, tenancy: .any)
            count("samples", submission.accepted)
        } catch {
            switch error {
            case .notDurable, .storeUnwritable(_, held: true):
                // Taken, and held until the store writes.
                count("samples", merged.batch.records.count)
            default:
                count("dropped", merged.batch.records.count)
                edge.counters.add("udp_dropped_records", UInt64(merged.batch.records.count))
                logger.warning("StatsD datagrams dropped", metadata: ["records": "\(merged.batch.records.count)", "reason": "\(error)"])
            }
        }
    }

    /// Lines of a TCP stream (or the sets a flush closed): waits while the pipeline is full,
    /// so a full pipeline stops the reading of the connection, and with it the client.
    func submit(_ received: StatsDState.Received, peer: String) async throws {
        count("skipped", received.skipped)
        received.batch.rejections.forEach { report($0, peer: peer) }
        guard !received.batch.isEmpty else { return }
        while true {
            try Task.checkCancellation()
            do throws(IngestRefusal) {
                let submission = try await edge.submit(received.batch, tenancy: .any)
                count("samples", submission.accepted)
                count("rejected", submission.rejections.count)
                return
            } catch {
                switch error {
                case .pipelineFull:
                    continue
                case .rateLimited(let wait):
                    try await sleep(.seconds(wait))
                default:
                    count("refused", 1)
                    logger.warning("StatsD lines refused", metadata: ["peer": "\(peer)", "records": "\(received.batch.records.count)", "reason": "\(error)"])
                    return
                }
            }
        }
    }

    /// Sends the sets of every interval over by now.
    func flush() async throws {
        let now = edge.now()
        let records = state.withLock { $0.flush(through: now) }
        try await submit(records, peer: "set flush")
    }

    /// Sends every open set (shutdown).
    func finish() async throws {
        let records = state.withLock { $0.finish() }
        try await submit(records, peer: "shutdown")
    }

    private func submit(_ records: [Record], peer: String) async throws {
        guard !records.isEmpty else { return }
        var received = StatsDState.Received()
        for record in records { received.batch.append(record) }
        try await submit(received, peer: peer)
    }

    func count(_ what: String, _ n: Int) {
        edge.counters.add(ProtocolIngest.counter(what, Self.protocolName), UInt64(max(n, 0)))
    }

    private func report(_ error: LineError, peer: String) {
        logger.notice("rejected StatsD line", metadata: ["peer": "\(peer)", "line": "\(error.line)", "reason": "\(error.error.message)"])
    }
}

/// StatsD over UDP (`ingest.statsd.udp`): each datagram one or more lines. Datagrams are taken
/// in batches: what arrived within `batchInterval`, at most `batchDatagrams` at a time.
struct StatsDUDPSource: Service {
    static let batchDatagrams = 1_024
    static let batchInterval = Duration.milliseconds(20)

    let host: String
    let port: Int
    let ingest: StatsDIngest
    let bound: @Sendable (Int) -> Void

    func run() async throws {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Bursts of small datagrams: a larger receive buffer drops fewer before they are read.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        let actual = channel.channel.localAddress?.port ?? port
        bound(actual)
        ingest.logger.info("listening for StatsD over UDP", metadata: ["address": "\(host):\(actual)"])
        try await withGracefulShutdownHandler {
            try await channel.executeThenClose { inbound, _ in
                let batches = inbound.chunks(ofCount: Self.batchDatagrams, or: .repeating(every: Self.batchInterval, clock: ContinuousClock()))
                for try await datagrams in batches {
                    try await ingest.datagrams(datagrams)
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }
}

/// StatsD over TCP (`ingest.statsd.tcp`): newline-separated lines on each connection.
struct StatsDTCPSource: Service {
    let host: String
    let port: Int
    let ingest: StatsDIngest
    let maxConnections: Int
    /// `server.idle_timeout`: a connection silent this long is closed.
    let idleTimeout: Duration
    let bound: @Sendable (Int) -> Void

    func run() async throws {
        let listener = TCPListener(host: host, port: port, maxConnections: maxConnections, idleTimeout: idleTimeout, logger: ingest.logger, name: "StatsD over TCP")
        try await listener.run(bound: bound) { connection in await handle(connection) }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, Never>) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        ingest.count("requests", 1)
        var splitter = LineSplitter(maximumLineBytes: ingest.state.withLock { $0.configuration.maximumLineBytes })
        do {
            try await connection.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    let now = ingest.edge.now()
                    let received = buffer.withUnsafeReadableBytes { bytes in
                        ingest.state.withLock { state in
                            var received = StatsDState.Received()
                            splitter.feed(bytes.assumingMemoryBound(to: UInt8.self)) { state.receive($0, now: now, into: &received) }
                            return received
                        }
                    }
                    try await ingest.submit(received, peer: peer)
                }
            }
            // A last line without a newline still counts.
            let now = ingest.edge.now()
            let received = ingest.state.withLock { state in
                var received = StatsDState.Received()
                splitter.finish { state.receive($0, now: now, into: &received) }
                return received
            }
            try await ingest.submit(received, peer: peer)
        } catch {
            ingest.logger.debug("StatsD connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

/// Closes the StatsD sets as their intervals end, on an injected clock; on graceful shutdown
/// (after the listeners have stopped) sends every set still open, so none is lost.
struct StatsDSetFlusher<C: Clock>: Service where C.Duration == Duration {
    let ingest: StatsDIngest
    let clock: C

    func run() async throws {
        let interval = ingest.state.withLock { $0.configuration.setInterval }
        try? await cancelWhenGracefulShutdown {
            while true {
                // Until the end of the interval the wall clock is in, so a set comes out as
                // soon as its interval is over.
                let now = ingest.edge.now().microseconds
                let untilEnd = interval.microseconds - ((now % interval.microseconds) + interval.microseconds) % interval.microseconds
                try await clock.sleep(for: .microseconds(untilEnd))
                try await ingest.flush()
            }
        }
        try await ingest.finish()
    }
}
