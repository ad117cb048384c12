import NIOCore

/// One connection's protocol handling, on its event loop: parses what the server sends,
/// answers its `PING`s, runs the handshake (`INFO` in, `CONNECT` and `PING` out, `PONG` in),
/// and after it hands every operation to the client.
final class NATSChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var parser = NATSProtocolParser()
    /// Completed when the handshake is; `nil` after it.
    private var ready: EventLoopPromise<NATSServerInfo>?
    private var info: NATSServerInfo?
    private let connect: @Sendable (NATSServerInfo) -> [UInt8]
    private let deliver: @Sendable (NATSServerOperation) -> Void
    private let closed: @Sendable (NATSError) -> Void
    private var failure: NATSError?

    init(ready: EventLoopPromise<NATSServerInfo>, connect: @escaping @Sendable (NATSServerInfo) -> [UInt8],
         deliver: @escaping @Sendable (NATSServerOperation) -> Void, closed: @escaping @Sendable (NATSError) -> Void) {
        self.ready = ready
        self.connect = connect
        self.deliver = deliver
        self.closed = closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        parser.append(buffer.readableBytesView)
        do {
            while let operation = try parser.next() { handle(operation, context: context) }
        } catch {
            fail(error, context: context)
        }
    }

    private func handle(_ operation: NATSServerOperation, context: ChannelHandlerContext) {
        switch operation {
        case .ping:
            write([UInt8]("PONG\r\n".utf8), context: context)
        case .info(let json) where ready != nil:
            do {
                let info = try NATSServerInfo.decode(json)
                self.info = info
                write(connect(info) + Array("PING\r\n".utf8), context: context)
            } catch {
                fail(error, context: context)
            }
        case .pong where ready != nil:
            guard let info else { return fail(.protocolViolation("PONG before INFO"), context: context) }
            ready?.succeed(info)
            ready = nil
        case .error(let text) where ready != nil:
            fail(.server(text), context: context)
        case .error(let text):
            // The server closes the connection after most errors; it is reported with the close.
            failure = .server(text)
            deliver(operation)
        default:
            if ready == nil { deliver(operation) }
        }
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    private func fail(_ error: NATSError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = failure ?? .connection("the server closed the connection")
        if let ready {
            ready.fail(error)
            self.ready = nil
        } else {
            closed(error)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.connection("\(error)"), context: context)
    }
}
