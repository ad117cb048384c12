import Hummingbird

/// A Hummingbird middleware that records one `performance` sample per request: the route
/// pattern (`/items/{id}`, not the path), the response time, the database time its handlers
/// measured with `QueryPerformanceRecorder`, and the process's resident memory.
///
/// Add it to the router, so that the route is resolved when it runs:
/// ```swift
/// router.add(middleware: SluicePerformanceMiddleware(client: sluice))
/// ```
/// Requests that match no route are recorded under `route` `NotFound`. Resident memory is
/// sampled once per flush interval, not read per request.
public struct SluicePerformanceMiddleware<Context: RequestContext>: RouterMiddleware {
    private let client: SluiceClient
    private let tenant: String?
    private let memory: ResidentMemory

    /// - Parameter tenant: the tenant the samples are reported as; the client's by default.
    public init(client: SluiceClient, tenant: String? = nil) {
        self.client = client
        self.tenant = tenant ?? client.configuration.tenant
        let memory = ResidentMemory()
        self.memory = memory
        client.addReporter { _ in
            memory.refresh()
            return []
        }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome: Result<Response, any Error>
        let queries: QueryPerformanceRecorder
        do {
            let (response, recorder) = try await QueryPerformanceRecorder.collecting { try await next(request, context) }
            outcome = .success(response)
            queries = recorder
        } catch {
            // The recorder of a request that threw is out of reach; its database time is not.
            outcome = .failure(error)
            queries = QueryPerformanceRecorder()
        }
        let elapsed = start.duration(to: clock.now)
        let route = context.endpointPath ?? "NotFound"
        await client.record(.performance(PerformanceRecord(
            timestamp: .now(), tenantID: tenant, labels: ["route": route],
            responseTime: elapsed.milliseconds, dbQueryTime: queries.queries > 0 ? queries.total.milliseconds : 0,
            memoryUsage: memory.megabytes)))
        return try outcome.get()
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1e3 + Double(components.attoseconds) / 1e15
    }
}
