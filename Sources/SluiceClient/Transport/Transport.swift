import AsyncHTTPClient
import NIOCore

/// One POST of NDJSON to Sluice, and its answer. `HTTPTransport` sends it with
/// async-http-client; tests put a scripted transport in its place.
public protocol SluiceTransport: Sendable {
    func send(_ request: SluiceRequest) async throws -> SluiceResponse
}

/// A transport failure that retrying cannot cure (a malformed URL, an unsupported scheme): the
/// client counts the batch as rejected and logs the reason instead of retrying for ever.
public struct SluiceTransportMisconfigured: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An ingest request as the client builds it: the same bytes and key on every attempt.
public struct SluiceRequest: Sendable {
    /// The NDJSON body, gzip-compressed when `isGzip`.
    public var body: [UInt8]
    public var isGzip: Bool
    /// Sent as `Idempotency-Key`: a retried batch is counted once by the server.
    public var idempotencyKey: String
    /// Records in the body.
    public var records: Int
}

public struct SluiceResponse: Sendable {
    public var status: Int
    /// `Retry-After`, in seconds, when the server sent one.
    public var retryAfter: Int?
    public var body: String

    public init(status: Int, retryAfter: Int? = nil, body: String = "") {
        self.status = status
        self.retryAfter = retryAfter
        self.body = body
    }
}

/// Posts to `{url}/api/v2/analytics/metrics` over a pooled keep-alive connection.
public struct HTTPTransport: SluiceTransport {
    let client: HTTPClient
    let endpoint: String
    let token: String?
    let timeout: TimeAmount

    /// `client` defaults to async-http-client's shared client, which needs no shutdown.
    public init(url: String, token: String?, timeout: Duration = .seconds(10), client: HTTPClient = .shared) {
        self.client = client
        self.endpoint = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/api/v2/analytics/metrics"
        self.token = token
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    }

    public func send(_ request: SluiceRequest) async throws -> SluiceResponse {
        var http = HTTPClientRequest(url: endpoint)
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/x-ndjson")
        http.headers.add(name: "Idempotency-Key", value: request.idempotencyKey)
        if request.isGzip { http.headers.add(name: "Content-Encoding", value: "gzip") }
        if let token { http.headers.add(name: "Authorization", value: "Bearer \(token)") }
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(http, timeout: timeout)
        } catch let error as HTTPClientError where error == .invalidURL || error == .emptyHost || error == .emptyScheme {
            throw SluiceTransportMisconfigured("\(endpoint) is not a URL Sluice can be reached at (\(error))")
        } catch let error as HTTPClientError where "\(error)".contains("unsupportedScheme") {
            throw SluiceTransportMisconfigured("\(endpoint): use http:// or https:// (\(error))")
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        return SluiceResponse(status: Int(response.status.code),
                              retryAfter: response.headers.first(name: "Retry-After").flatMap { Int($0) },
                              body: String(buffer: body))
    }
}
