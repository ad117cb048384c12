import Hummingbird
import NIOCore
import SluiceModel
import SluicePipeline
import SluiceProtocols

/// OTLP/HTTP ingest (design §10): `POST /v1/metrics` and `POST /v1/traces`, protobuf
/// (`application/x-protobuf`) or OTLP/JSON (`application/json`), optionally gzip.
///
/// Answers follow the OTLP/HTTP specification: `200` with an `Export…ServiceResponse` in the
/// request's encoding, carrying `partial_success` (how many points or spans were refused and
/// the first reasons) when some were; `400` when the body is not an OTLP message at all (a
/// JSON `{"error", "detail"}` body naming the position, rather than a `google.rpc.Status`);
/// `415` for another media type; the ingest edge's `403`/`429`/`503`/`507` otherwise.
struct OTLPRoutes: Sendable {
    let ingest: ProtocolIngest
    let metrics: OTLPMetricsDecoder

    static let metricsProtocol = "otlp_metrics"
    static let tracesProtocol = "otlp_traces"

    /// Adds the two routes. The cumulative state lives as long as the router: a stream's
    /// points arrive in separate requests.
    static func register(on router: Router<SluiceRequestContext>, state: ServerState, maxBodyBytes: Int) {
        let routes = OTLPRoutes(ingest: ProtocolIngest(edge: state.edge, maxBodyBytes: maxBodyBytes),
                                metrics: OTLPMetricsDecoder(state: OTLPCumulativeState(start: state.edge.now())))
        router.post("v1/metrics") { request, context in try await routes.export(request, context, signal: .metrics) }
        router.post("v1/traces") { request, context in try await routes.export(request, context, signal: .traces) }
    }

    func export(_ request: Request, _ context: SluiceRequestContext, signal: OTLPResponse.Signal) async throws -> Response {
        let name = signal == .metrics ? Self.metricsProtocol : Self.tracesProtocol
        let contentType = request.headers[.contentType] ?? ""
        guard let encoding = OTLPEncoding(contentType: contentType) else {
            throw ingest.refused(name, APIError(.unsupportedMediaType, "unsupported_media_type",
                                                "Content-Type \(contentType.isEmpty ? "(none)" : contentType) is not OTLP/HTTP; send application/x-protobuf or application/json"))
        }
        // Refused before decoding, so that cumulative points are not taken as the reference
        // for the next ones when nothing of them can be.
        if let failure = ingest.edge.health?.failure {
            throw ingest.refused(name, HTTPIngest.refusal(.storeUnwritable(failure, held: false)))
        }
        let body = try await ingest.body(request, protocol: name)
        let (protocolContext, tenancy) = try ingest.context(request, context, protocol: name)
        let decoded: OTLPDecoded
        do throws(ProtocolError) {
            decoded = try body.withUnsafeBufferPointer { bytes throws(ProtocolError) in
                switch signal {
                case .metrics: try metrics.decode(bytes, encoding: encoding, context: protocolContext)
                case .traces: try OTLPTracesDecoder.decode(bytes, encoding: encoding, context: protocolContext)
                }
            }
        } catch {
            throw ingest.invalid(name, error)
        }
        let answer: IngestAnswer
        do {
            answer = try await ingest.submit(decoded.batch, tenancy: tenancy, protocol: name, context: context) { outcome in
                let message = outcome.rejections.isEmpty ? nil : Self.message(outcome.rejections)
                let body = OTLPResponse.encode(signal, rejected: outcome.rejections.count, message: message, encoding: encoding)
                return IngestAnswer(status: .ok, contentType: encoding.contentType, body: body)
            }
        } catch let error as APIError {
            // Nothing was taken: the sender retries, and its cumulative points must then be
            // deltas against what came before them. Records already in the pipeline (not yet
            // durable, or held while the store cannot write) were taken and stay counted.
            if error.error != "not_durable" && error.error != "store_unwritable" { metrics.state.revert(decoded.changes) }
            throw error
        }
        ingest.skipped(decoded.skipped, protocol: name)
        return answer.response
    }

    /// `partial_success.error_message`: the first refusals, each naming its point or span.
    static func message(_ rejections: [LineError], limit: Int = 5) -> String {
        var text = rejections.prefix(limit).map(\.error.message).joined(separator: "; ")
        if rejections.count > limit { text += "; and \(rejections.count - limit) more" }
        return "\(rejections.count) rejected: \(text)"
    }
}
