import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A TCP listener for line protocols (NDJSON, StatsD): binds, reports its port, closes a
/// connection silent for `idleTimeout`, refuses connections past `maxConnections`, and hands
/// each accepted one to `handle` in its own task until graceful shutdown closes the listener.
struct TCPListener: Sendable {
    let host: String
    let port: Int
    let maxConnections: Int
    let idleTimeout: Duration
    let logger: Logger
    /// What the log lines call it ("NDJSON over TCP", "StatsD over TCP").
    let name: String

    func run(bound: @Sendable (Int) -> Void, handle: @escaping @Sendable (NIOAsyncChannel<ByteBuffer, Never>) async -> Void) async throws {
        let idle = TimeAmount.nanoseconds(Int64(idleTimeout.components.seconds) * 1_000_000_000 + idleTimeout.components.attoseconds / 1_000_000_000)
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
        let actual = server.channel.localAddress?.port ?? port
        bound(actual)
        logger.info("listening for \(name)", metadata: ["address": "\(host):\(actual)"])
        let open = ConnectionCount()
        let (logger, name, maxConnections) = (self.logger, self.name, self.maxConnections)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        guard open.value.add(1, ordering: .relaxed).newValue <= maxConnections else {
                            open.value.subtract(1, ordering: .relaxed)
                            logger.warning("\(name) connection refused: server.max_connections reached")
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
}
