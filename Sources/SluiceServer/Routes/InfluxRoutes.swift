import Hummingbird
import SluiceModel
import SluiceProtocols

/// InfluxDB's write endpoints (design §10), so that Telegraf and the InfluxDB client libraries
/// can write to Sluice as they are:
///
/// - `POST /api/v2/write?org=&bucket=&precision=` (InfluxDB 2; `precision` ns, us, ms or s);
/// - `POST /write?db=&precision=` (InfluxDB 1; `precision` n, u, ms, s, m or h).
///
/// `org`, `bucket`, `db` and `rp` are accepted and ignored: the token decides whose records
/// these are (an admin token may name a tenant with `X-Scope-OrgID` or a `tenant_id` tag), so a
/// client cannot reach another tenant by naming a bucket. `Authorization: Token T` is taken like
/// `Bearer T`. Answers as InfluxDB does: `204` when every line was written; `400` with
/// `{"code":"invalid","message":…}` naming the first refused lines when some were refused (the
/// valid lines are still written, and the message says so), and for a bad `precision`.
struct InfluxRoutes: Sendable {
    let ingest: ProtocolIngest

    /// The name the counters on `/metrics` carry: `sluice_protocol_*_total{protocol="influx"}`.
    static let protocolName = "influx"

    enum API {
        case v1
        case v2
    }

    /// Adds the two write routes to `router`.
    static func register(on router: Router<SluiceRequestContext>, state: ServerState, maxBodyBytes: Int) {
        let routes = InfluxRoutes(ingest: ProtocolIngest(edge: state.edge, maxBodyBytes: maxBodyBytes))
        router.post("api/v2/write") { request, context in await routes.write(request, context, api: .v2) }
        router.post("write") { request, context in await routes.write(request, context, api: .v1) }
    }

    func write(_ request: Request, _ context: SluiceRequestContext, api: API) async -> Response {
        let name = Self.protocolName
        do {
            let asked = request.uri.queryParameters.get("precision").map { String($0) }
            let parsed = api == .v2 ? InfluxPrecision(v2: asked) : InfluxPrecision(v1: asked)
            guard let precision = parsed else {
                let names = api == .v2 ? InfluxPrecision.v2Names : InfluxPrecision.v1Names
                throw ingest.refused(name, APIError.badRequest("precision=\(asked ?? "") is not valid: use \(names)"))
            }
            let (decoding, tenancy) = try ingest.context(request, context, protocol: name)
            let body = try await ingest.body(request, protocol: name)
            let decoded = body.withUnsafeBufferPointer { InfluxLineProtocol.decode($0, precision: precision, context: decoding) }
            if decoded.batch.isEmpty, decoded.skippedStrings == 0 {
                throw ingest.refused(name, APIError.badRequest("writing requires points: the body holds no lines"))
            }
            let answer = try await ingest.submit(decoded.batch, tenancy: tenancy, protocol: name, context: context) { outcome in
                guard let summary = outcome.summary() else { return IngestAnswer(status: .noContent) }
                let message = outcome.accepted > 0
                    ? "partial write: the valid lines were written (\(outcome.accepted) sample\(outcome.accepted == 1 ? "" : "s")), but \(summary)"
                    : "no line was written: \(summary)"
                return Self.answer(.badRequest, message, api: api)
            }
            ingest.skipped(decoded.skippedStrings, protocol: name)
            return answer.response
        } catch let error as APIError {
            return Self.answer(error.status, error.detail, api: api, headers: error.headers).response
        } catch {
            return Self.answer(.internalServerError, "\(error)", api: api).response
        }
    }

    /// An error as InfluxDB writes it: `{"code":…,"message":…}`, and for v1 clients, which read
    /// `error`, the message again under that name.
    static func answer(_ status: HTTPResponse.Status, _ message: String, api: API, headers: HTTPFields = [:]) -> IngestAnswer {
        var json = JSONWriter()
        json.beginObject()
        json.key("code"); json.string(code(status))
        json.key("message"); json.string(message)
        if api == .v1 { json.key("error"); json.string(message) }
        json.endObject()
        json.newline()
        return IngestAnswer(status: status, contentType: "application/json; charset=utf-8", body: json.bytes, headers: headers)
    }

    /// InfluxDB's error code for a status.
    static func code(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "invalid"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 413: "request too large"
        case 415: "unsupported media type"
        case 429: "too many requests"
        case 503, 507: "unavailable"
        default: "internal error"
        }
    }
}
