import Hummingbird
import SluicePipeline

/// The request context: Hummingbird's core plus who the request speaks for.
public struct SluiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity = .admin
    /// The request's hold on its `Idempotency-Key`, when it sent one (`IdempotencyMiddleware`).
    public var idempotency: IdempotencyKeys.Ticket?

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// Resolves the bearer token; refuses the request (401) when tokens are configured and it has
/// none or an unknown one. Health probes and the metrics endpoint stay open.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let authenticator: Authenticator
    static let open: Set<String> = ["/healthz", "/readyz", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        // A browser cannot set headers on a page load or an EventSource: `?token=` stands in.
        let presented = request.headers[.authorization] ?? request.uri.queryParameters.get("token").map { "Bearer \($0)" }
        guard let identity = authenticator.identify(authorization: presented) else {
            throw APIError.unauthorized()
        }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }
}
