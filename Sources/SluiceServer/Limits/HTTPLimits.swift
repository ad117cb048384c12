import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceModel

/// The request limits of `sluice serve`'s HTTP listener (the `server:` section), each with its
/// answer: a head over `max_header_bytes` or with more than `max_headers` fields is `431`; a
/// request that arrives too slowly (`request_timeout`, `min_body_rate`) is `408` and closed;
/// a connection with no request for `idle_timeout` is closed. (The body limit is the routes',
/// `413`; `max_connections` is the server's accept limit.)
struct HTTPLimits: Sendable {
    var maxHeaderBytes: Int
    var maxHeaders: Int
    var requestTimeout: WindowDuration
    var minBodyRate: Int
    var idleTimeout: WindowDuration

    init(_ server: Configuration.Server) {
        maxHeaderBytes = server.maxHeaderBytes
        maxHeaders = server.maxHeaders
        requestTimeout = server.requestTimeout
        minBodyRate = server.minBodyRate
        idleTimeout = server.idleTimeout
    }

    /// Hummingbird's HTTP/1 server with these limits.
    var serverBuilder: HTTPServerBuilder {
        let limits = self
        return HTTPServerBuilder { responder in
            let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
                maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: limits.maxHeaders)
            let configuration = HTTP1Channel.Configuration(idleTimeout: .microseconds(limits.idleTimeout.microseconds), httpDecoderConfiguration: decoder)
            return LimitedHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: configuration), limits: limits)
        }
    }

    /// `{"error": …, "detail": …}`, as every error of the API.
    static func errorBody(error: String, detail: String) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("error"); json.string(error)
        json.key("detail"); json.string(detail)
        json.endObject()
        json.newline()
        return json.bytes
    }

    /// A whole HTTP/1.1 error response that closes the connection, for a handler that sits
    /// before the HTTP encoder.
    static func errorResponse(status: String, error: String, detail: String) -> [UInt8] {
        let body = errorBody(error: error, detail: detail)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

/// Hummingbird's HTTP/1 channel with `RequestTimeoutHandler` in front of the decoder and
/// `RequestProgressHandler` right after it.
struct LimitedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let limits: HTTPLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = limits
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(RequestTimeoutHandler(timeout: limits.requestTimeout, minBodyRate: limits.minBodyRate), position: .first)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(RequestProgressHandler(maxHeaderBytes: limits.maxHeaderBytes, maxHeaders: limits.maxHeaders), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
