import Hummingbird
import SluiceModel

/// The Prometheus-compatible read API (design §9) under `/api/v1/`: `query`, `query_range`,
/// `series`, `labels`, `label/<name>/values`, `metadata` and `status/buildinfo`, by GET or
/// by POST with a form body. A tenant token reads its own tenant's series only.
struct PromRoutes: Sendable {
    let source: PromSeriesSource
    let maxBodyBytes: Int

    /// Points per series a range query may return, as Prometheus limits it.
    static let maxPoints: Int64 = 11_000

    /// Adds the routes to `router`.
    static func register(on router: Router<SluiceRequestContext>, state: ServerState, maxBodyBytes: Int) {
        let routes = PromRoutes(source: PromSeriesSource(state: state), maxBodyBytes: maxBodyBytes)
        let api = router.group("api/v1")
        for (path, handler) in [("query", routes.query), ("query_range", routes.queryRange), ("series", routes.series),
                                ("labels", routes.labels)] as [(RouterPath, @Sendable (Request, SluiceRequestContext) async throws -> Response)] {
            api.get(path, use: handler)
            api.post(path, use: handler)
        }
        api.get("label/:name/values", use: routes.labelValues)
        api.get("metadata", use: routes.metadata)
        api.get("status/buildinfo") { _, _ in routes.buildInfo() }
    }

    /// The one tenant this request may read, `nil` for admin.
    static func tenant(_ context: SluiceRequestContext) -> String? {
        if case .tenant(let own) = context.identity { return own }
        return nil
    }

    @Sendable func query(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let parameters = try await PromParameters(request, maxBodyBytes: maxBodyBytes)
        let expression = try PromQL.Parser.parse(parameters["query"] ?? "")
        let time = try parameters.time("time") ?? Timestamp.now().microseconds
        let data = try await source.load(expression.selections, from: time, through: time, tenant: Self.tenant(context))
        var evaluator = try PromQL.Evaluator(expression, data: data)
        let value = try evaluator.evaluate(expression, at: time)
        return PromResponse.success(warnings: evaluator.warnings) { PromResponse.write(value, at: time, to: &$0) }
    }

    @Sendable func queryRange(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let parameters = try await PromParameters(request, maxBodyBytes: maxBodyBytes)
        let expression = try PromQL.Parser.parse(parameters["query"] ?? "")
        guard let start = try parameters.time("start") else { throw APIError.badData("invalid parameter \"start\": missing; give an RFC 3339 time or Unix seconds") }
        guard let end = try parameters.time("end") else { throw APIError.badData("invalid parameter \"end\": missing; give an RFC 3339 time or Unix seconds") }
        guard let step = try parameters.duration("step") else { throw APIError.badData("invalid parameter \"step\": missing; give a duration such as 15s or a number of seconds") }
        guard end >= start else { throw APIError.badData("invalid parameter \"end\": end timestamp must not be before start time") }
        guard step > 0 else { throw APIError.badData("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer") }
        guard (end - start) / step < Self.maxPoints else {
            throw APIError.badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        }
        guard expression.type == .scalar || expression.type == .instantVector else {
            throw APIError.badData("invalid expression type \"\(expression.type)\" for range query, must be scalar or instant vector")
        }
        let data = try await source.load(expression.selections, from: start, through: end, tenant: Self.tenant(context))
        var evaluator = try PromQL.Evaluator(expression, data: data)
        let matrix = try evaluator.evaluate(expression, from: start, through: end, step: step)
        return PromResponse.success(warnings: evaluator.warnings) { json in
            json.beginObject()
            PromResponse.writeMatrix(matrix, to: &json)
            json.endObject()
        }
    }
}
