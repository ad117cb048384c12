import Hummingbird
import Logging
import NIOCore
import SluiceStore

/// Gives every failure the README's body, `{"error": …, "detail": …}`: Hummingbird's own
/// errors (no route, a body over a limit) and any unexpected error, which is also logged.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error.status, Self.code(error.status), error.body ?? Self.detail(error.status, request), headers: error.headers)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "content_too_large", Self.detail(.contentTooLarge, request))
        } catch let error as StoreError {
            context.logger.error("store error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            if error.isIO { throw APIError(.insufficientStorage, "store_unwritable", "\(error)") }
            throw APIError(.internalServerError, "store_error", "\(error)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError(.internalServerError, "internal_error", "\(error)")
        }
    }

    /// `404` → `not_found`, `413` → `content_too_large`: the reason phrase in snake case.
    static func code(_ status: HTTPResponse.Status) -> String {
        status.reasonPhrase.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce(into: "") { $0.append($1) }
    }

    static func detail(_ status: HTTPResponse.Status, _ request: Request) -> String {
        switch status {
        case .notFound: "no route for \(request.method) \(request.uri.path); see the README's endpoint table"
        case .contentTooLarge: "the body is larger than this endpoint accepts"
        case .methodNotAllowed: "\(request.method) is not allowed on \(request.uri.path)"
        default: status.reasonPhrase
        }
    }
}
