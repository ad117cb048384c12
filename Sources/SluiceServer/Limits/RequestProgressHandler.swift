import NIOCore
import NIOHTTP1

/// Sits right after the HTTP/1 request decoder: reports each request's head and end (and each
/// response's start and end) to `RequestTimeoutHandler`, and answers a request head over
/// `server.max_header_bytes` or `server.max_headers` with `431` instead of the decoder's bare
/// parse error (which Hummingbird would answer `400`).
final class RequestProgressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let detail431: String
    /// Requests whose head arrived and whose response has not ended.
    private var unanswered = 0

    init(maxHeaderBytes: Int, maxHeaders: Int) {
        detail431 = "the request head is larger than server.max_header_bytes (\(maxHeaderBytes) bytes) or has more than server.max_headers (\(maxHeaders)) fields; the connection is closed"
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            context.triggerUserOutboundEvent(RequestProgress.headReceived, promise: nil)
        case .body:
            break
        case .end:
            context.triggerUserOutboundEvent(RequestProgress.requestEnded, promise: nil)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            context.triggerUserOutboundEvent(RequestProgress.responseStarted, promise: nil)
        case .end:
            unanswered = max(0, unanswered - 1)
            context.triggerUserOutboundEvent(RequestProgress.responseEnded, promise: nil)
        case .head, .body:
            break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Only when no earlier request is owed its answer can this one be answered in turn.
        guard let parse = error as? HTTPParserError, parse == .headerOverflow, unanswered == 0 else {
            context.fireErrorCaught(error)
            return
        }
        let body = HTTPLimits.errorBody(error: "request_header_fields_too_large", detail: detail431)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .requestHeaderFieldsTooLarge, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
