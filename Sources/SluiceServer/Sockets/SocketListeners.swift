import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import SluiceModel
import SluicePipeline

/// NDJSON over TCP: one pipeline producer per connection. While the pipeline is full the
/// connection is not read, so back-pressure reaches the client through TCP's own window.
public struct TCPListener: Service {
    let host: String
    let port: Int
    let pipeline: Pipeline
    let decoder: NDJSONDecoder.Configuration
    let maxConnections: Int
    let idleTimeout: TimeAmount
    let logger: Logger
    let bound: @Sendable (Int) -> Void

    public init(host: String, port: Int, pipeline: Pipeline, decoder: NDJSONDecoder.Configuration, maxConnections: Int,
                idleTimeout: Duration, logger: Logger, bound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.pipeline = pipeline
        self.decoder = decoder
        self.maxConnections = maxConnections
        self.idleTimeout = .nanoseconds(Int64(idleTimeout.components.seconds) * 1_000_000_000 + idleTimeout.components.attoseconds / 1_000_000_000)
        self.logger = logger
        self.bound = bound
    }

    public func run() async throws {
        let idle = idleTimeout
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(CloseOnIdle())
                    return try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel)
                }
            }
        bound(server.channel.localAddress?.port ?? port)
        logger.info("listening for NDJSON over TCP", metadata: ["address": "\(host):\(server.channel.localAddress?.port ?? port)"])
        let open = ConnectionCount()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        guard open.value.add(1, ordering: .relaxed).newValue <= maxConnections else {
                            open.value.subtract(1, ordering: .relaxed)
                            logger.warning("connection refused: server.max_connections reached")
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            defer { open.value.subtract(1, ordering: .relaxed) }
                            await handle(connection)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, Never>) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        let ingest = Ingest(configuration: { var c = Ingest.Configuration(); c.decoder = decoder; return c }(),
                            output: pipeline.input, counters: pipeline.counters, ingestTime: { Timestamp.now() }) { error in
            logger.notice("rejected line", metadata: ["peer": "\(peer)", "line": "\(error.line)", "reason": "\(error.error.message)"])
        }
        do {
            try await connection.executeThenClose { inbound, _ in
                _ = try await ingest.run(inbound.map { Array($0.readableBytesView) })
            }
        } catch {
            logger.debug("connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

/// Open TCP connections.
final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
}

/// Closes a connection that has been idle for `server.idle_timeout`.
final class CloseOnIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// NDJSON over UDP: one or more lines per datagram. UDP has no back-pressure: a datagram that
/// finds the pipeline full is dropped, and counted (`udp_dropped_records`).
public struct UDPListener: Service {
    let host: String
    let port: Int
    let pipeline: Pipeline
    let decoder: NDJSONDecoder.Configuration
    let logger: Logger
    let bound: @Sendable (Int) -> Void

    public init(host: String, port: Int, pipeline: Pipeline, decoder: NDJSONDecoder.Configuration, logger: Logger,
                bound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.pipeline = pipeline
        self.decoder = decoder
        self.logger = logger
        self.bound = bound
    }

    public func run() async throws {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        bound(channel.channel.localAddress?.port ?? port)
        logger.info("listening for NDJSON over UDP", metadata: ["address": "\(host):\(channel.channel.localAddress?.port ?? port)"])
        let decoder = NDJSONDecoder(configuration: self.decoder)
        try await withGracefulShutdownHandler {
            try await channel.executeThenClose { inbound, _ in
                for try await datagram in inbound {
                    var records: [Record] = []
                    var errors: [DecodeError] = []
                    var splitter = LineSplitter(maximumLineBytes: self.decoder.maximumLineBytes)
                    let now = Timestamp.now()
                    let take: (LineSplitter.Line) -> Void = { line in
                        guard case .line(let bytes, _) = line else { errors.append(DecodeError(.lineTooLong, "line too long")); return }
                        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
                        switch decoder.decode(bytes, ingestTime: now) {
                        case .success(let r): records.append(r)
                        case .failure(let e): errors.append(e)
                        }
                    }
                    Array(datagram.data.readableBytesView).withUnsafeBufferPointer { splitter.feed($0, take) }
                    splitter.finish(take)
                    for e in errors {
                        logger.notice("rejected datagram line", metadata: ["peer": "\(datagram.remoteAddress)", "reason": "\(e.message)"])
                    }
                    pipeline.counters.update { summary in
                        summary.errors += UInt64(errors.count)
                        for e in errors { summary.errorsByReason[e.reason, default: 0] += 1 }
                    }
                    guard !records.isEmpty else { continue }
                    if pipeline.input.trySend(RecordBatch(records: records)) {
                        pipeline.counters.update { summary in
                            summary.records += UInt64(records.count)
                            for r in records { summary.recordsByType[r.kind, default: 0] += 1 }
                        }
                    } else {
                        pipeline.counters.add("udp_dropped_records", UInt64(records.count))
                    }
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }
}
