import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import SluiceModel
import SluicePipeline

/// NDJSON over TCP: each connection is a stream into the ingest edge. While the pipeline is
/// full the connection is not read, so back-pressure reaches the client through TCP's own window.
public struct TCPSource: Service {
    let host: String
    let port: Int
    let edge: IngestEdge
    let maxConnections: Int
    let idleTimeout: Duration
    let logger: Logger
    let bound: @Sendable (Int) -> Void

    public init(host: String, port: Int, edge: IngestEdge, maxConnections: Int,
                idleTimeout: Duration, logger: Logger, bound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.edge = edge
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.logger = logger
        self.bound = bound
    }

    public func run() async throws {
        let listener = TCPListener(host: host, port: port, maxConnections: maxConnections, idleTimeout: idleTimeout, logger: logger, name: "NDJSON over TCP")
        try await listener.run(bound: bound) { connection in await handle(connection) }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, Never>) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        do {
            try await connection.executeThenClose { inbound, _ in
                _ = try await edge.stream(inbound.map { Array($0.readableBytesView) }, source: peer) { error in
                    logger.notice("rejected line", metadata: ["peer": "\(peer)", "line": "\(error.line)", "reason": "\(error.error.message)"])
                }
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

/// NDJSON over UDP: one or more lines per datagram, each datagram a message to the ingest
/// edge. UDP has no back-pressure: a datagram that finds the pipeline full is dropped, and
/// counted (`udp_dropped_records`).
public struct UDPSource: Service {
    let host: String
    let port: Int
    let edge: IngestEdge
    let logger: Logger
    let bound: @Sendable (Int) -> Void

    public init(host: String, port: Int, edge: IngestEdge, logger: Logger, bound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.edge = edge
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
        try await withGracefulShutdownHandler {
            try await channel.executeThenClose { inbound, _ in
                for try await datagram in inbound {
                    let peer = "\(datagram.remoteAddress)"
                    guard let batch = try? datagram.data.withUnsafeReadableBytes({ bytes throws(IngestRefusal) in
                        try edge.decode(message: bytes.assumingMemoryBound(to: UInt8.self), arrays: false, source: peer)
                    }) else { continue }
                    try await edge.datagram(batch) { error in
                        logger.notice("rejected datagram line", metadata: ["peer": "\(peer)", "line": "\(error.line)", "reason": "\(error.error.message)"])
                    }
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }
}
