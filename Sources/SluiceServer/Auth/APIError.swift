import Hummingbird
import SluiceModel

/// A client-facing error: `{"error": …, "detail": …}` with the right status; under
/// `/api/v1/` Prometheus' envelope, `{"status":"error","errorType": …,"error": …}`.
public struct APIError: HTTPResponseError {
    public var status: HTTPResponse.Status
    public var error: String
    public var detail: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ error: String, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body(path: request.uri.path))))
    }

    /// The JSON body for a request to `path` (Prometheus' envelope under `/api/v1/`).
    func body(path: String) -> [UInt8] {
        if path.hasPrefix("/api/v1/") { return PromResponse.errorBody(self) }
        return HTTPLimits.errorBody(error: error, detail: detail)
    }

    static func unauthorized() -> APIError {
        APIError(.unauthorized, "unauthorized", "send a bearer token from auth.tokens: Authorization: Bearer <token>",
                 headers: [.wwwAuthenticate: "Bearer"])
    }

    static func forbidden(_ detail: String) -> APIError { APIError(.forbidden, "forbidden", detail) }
    static func badRequest(_ detail: String) -> APIError { APIError(.badRequest, "bad_request", detail) }
    static func notFound(_ detail: String) -> APIError { APIError(.notFound, "not_found", detail) }
    /// Prometheus' `bad_data`: a query or parameter Sluice cannot answer (400).
    static func badData(_ detail: String) -> APIError { APIError(.badRequest, "bad_data", detail) }
    /// Prometheus' `execution`: a valid query whose evaluation failed (422).
    static func execution(_ detail: String) -> APIError { APIError(.unprocessableContent, "execution", detail) }
}

extension HTTPResponse.Status {
    /// 507 (RFC 4918): the server cannot store what the request needs; here, the disk is full
    /// or failing.
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}
