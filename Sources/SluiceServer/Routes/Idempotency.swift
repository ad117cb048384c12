import HTTPTypes
import Hummingbird
import NIOCore
import SluicePipeline

/// An ingest route's answer, made before the records are handed over: a request with an
/// `Idempotency-Key` stores it as its receipt, in the same block as its records.
struct IngestAnswer: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields = [:]
    var body: [UInt8] = []

    init(status: HTTPResponse.Status, contentType: String? = nil, body: [UInt8] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.headers = headers
        self.body = body
        if let contentType { self.headers[.contentType] = contentType }
    }

    /// A refusal of part of the request, rendered as `ErrorMiddleware` renders it for `path`.
    init(_ error: APIError, path: String) {
        self.init(status: error.status, contentType: "application/json", body: error.body(path: path), headers: error.headers)
    }

    /// Answers a retry from a stored receipt.
    init(_ receipt: IngestReceipt) {
        self.init(status: HTTPResponse.Status(code: receipt.status), contentType: receipt.contentType.isEmpty ? nil : receipt.contentType,
                  body: receipt.body)
    }

    var response: Response {
        Response(status: status, headers: headers, body: body.isEmpty ? .init() : .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The receipt that answers retries of `ticket`'s request the same way.
    func receipt(_ ticket: IdempotencyKeys.Ticket?, at time: Int64) -> IngestReceipt? {
        guard let ticket else { return nil }
        return IngestReceipt(scope: ticket.scope, key: ticket.key, time: time, status: status.code,
                             contentType: headers[.contentType] ?? "", body: body)
    }
}

/// `Idempotency-Key` (design §5): the same key from the same tenant within
/// `server.idempotency_window` is not ingested again; it gets the first request's answer.
///
/// The middleware claims the key before the route reads the body. A key seen before is
/// answered from its receipt (with `Idempotent-Replayed: true`) once its records are as durable
/// as the first answer said; one still in progress is `409`; a new one is handed to the route
/// in the context, and freed again if the route took no records.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let edge: IngestEdge
    static let header = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let keys = edge.keys, request.method == .post, let key = request.headers[Self.header] else {
            return try await next(request, context)
        }
        if let problem = IdempotencyKeys.problem(key) { throw APIError(.badRequest, "invalid_idempotency_key", problem) }
        let scope = if case .tenant(let own) = context.identity { own } else { IngestReceipt.adminScope }
        switch keys.claim(scope: scope, key: key, now: edge.now().microseconds) {
        case .busy:
            edge.counters.add("idempotency_conflicts", 1)
            throw APIError(.conflict, "idempotency_key_in_use",
                           "a request with Idempotency-Key \(key) is still being processed; retry once it has been answered",
                           headers: [.retryAfter: "1"])
        case .replay(let receipt, let acknowledgement):
            if let acknowledgement {
                switch await edge.wait(for: acknowledgement) {
                case .stored: break
                case .failed(let reason): throw HTTPIngest.refusal(.storeUnwritable(reason, held: true))
                case .cancelled, nil: throw HTTPIngest.refusal(.notDurable)
                }
            }
            edge.counters.add("idempotent_replays", 1)
            var answer = IngestAnswer(receipt)
            answer.headers[Self.replayed] = "true"
            return answer.response
        case .proceed(let ticket):
            defer { ticket.end() }
            var context = context
            context.idempotency = ticket
            return try await next(request, context)
        }
    }
}
