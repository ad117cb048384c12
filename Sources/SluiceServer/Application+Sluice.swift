import Foundation
import Hummingbird
import Logging
import SluiceModel
import SluicePipeline

/// The HTTP routes of `sluice serve` (design §5).
public enum SluiceRoutes {
    /// Builds the router; `dashboard` adds the page and widget routes.
    public static func router(state: ServerState, authenticator: Authenticator, maxBodyBytes: Int,
                              extra: ((Router<SluiceRequestContext>) -> Void)? = nil) -> Router<SluiceRequestContext> {
        let router = Router(context: SluiceRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: state.metrics))
        router.add(middleware: AuthMiddleware(authenticator: authenticator))
        router.add(middleware: IdempotencyMiddleware(edge: state.edge))

        let httpIngest = HTTPIngest(edge: state.edge, maxBodyBytes: maxBodyBytes)
        let query = QueryRoutes(state: state, clock: ContinuousClock())
        let retention = RetentionRoutes(state: state)
        let stream = StreamRoute(state: state, clock: ContinuousClock())

        let api = router.group("api/v2/analytics")
        api.post("metrics") { request, context in try await httpIngest.handle(request, context: context, defaultKind: .metric) }
        api.post("cache") { request, context in try await httpIngest.handle(request, context: context, defaultKind: .cache) }
        api.get("aggregate") { request, context in try await query.aggregate(request, context) }
        api.get("performance") { request, context in try await query.performance(request, context) }
        api.get("tenants/:id/metrics") { request, context in try await query.tenantMetrics(request, context) }
        api.get("tokens") { request, context in try await query.tokens(request, context) }
        api.get("anomalies") { request, context in try await query.anomalies(request, context) }
        api.get("retention") { request, context in try await retention.get(request, context) }
        api.put("retention") { request, context in try await retention.put(request, context) }
        api.post("retention/apply") { request, context in try await retention.apply(request, context) }
        api.get("stream") { request, context in try await stream.handle(request, context) }
        // Nodes, partitions, owners and lag, as NATS has them (design §12).
        router.get("api/v2/cluster/status") { _, context -> Response in
            guard context.identity == .admin else { throw APIError.forbidden("only an admin token may read the cluster's status") }
            guard let cluster = state.cluster else {
                throw APIError(.notFound, "not_clustered", "this server runs as one node (cluster.nats is not set)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = try encoder.encode(try await cluster.status())
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body + [0x0A])))
        }
        // The Prometheus-compatible read API (design §9).
        PromRoutes.register(on: router, state: state, maxBodyBytes: maxBodyBytes)
        // Ingest in the protocols agents already speak (design §10).
        OTLPRoutes.register(on: router, state: state, maxBodyBytes: maxBodyBytes)
        RemoteWriteRoute.register(on: router, state: state, maxBodyBytes: maxBodyBytes)
        InfluxRoutes.register(on: router, state: state, maxBodyBytes: maxBodyBytes)

        // Alive even when the store cannot write (a restart would not give it space): the
        // body says so, and readiness turns false.
        router.get("healthz") { _, _ in
            QueryRoutes.json { json in
                json.beginObject()
                json.key("status"); json.string("ok")
                if let failure = state.storeHealth?.failure { json.key("store"); json.string("cannot write: \(failure)") }
                json.endObject()
            }
        }
        router.get("readyz") { _, _ -> Response in
            guard state.ready.load(ordering: .acquiring) else {
                throw APIError(.serviceUnavailable, "starting", "the pipeline is not running yet")
            }
            if let failure = state.storeHealth?.failure {
                throw APIError(.serviceUnavailable, "store_unwritable", "the store cannot write: \(failure); ingest answers 507 until it can")
            }
            return QueryRoutes.json { $0.beginObject(); $0.key("status"); $0.string("ready"); $0.endObject() }
        }
        router.get("metrics") { _, _ -> Response in
            var text = state.metrics.scrape(counters: state.pipeline.counters, channelDepth: state.pipeline.input.count,
                                            channelCapacity: state.pipeline.input.capacity, store: state.storeStatistics)
            if let cluster = state.cluster { text += cluster.scrape() }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        extra?(router)
        return router
    }
}

