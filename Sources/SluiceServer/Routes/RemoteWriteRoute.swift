import Hummingbird
import SluiceModel
import SluiceProtocols

/// `POST /api/v1/write`: Prometheus remote write 1.0 (design §10), what Prometheus, Grafana
/// Agent/Alloy and vmagent send with a `remote_write:` block pointed at Sluice.
///
/// The body is a snappy block holding a `WriteRequest`; each sample becomes a `metric` record.
/// Answers as Prometheus' own receivers do: `204` when everything was taken; `400` with the
/// reasons when some samples were refused (the rest is kept, and the body says so), which
/// senders do not retry, rightly, as resending bad data cannot fix it; `429`/`503` from the
/// ingest edge, which they retry.
struct RemoteWriteRoute: Sendable {
    let ingest: ProtocolIngest

    /// The protocol's name in counters: `sluice_protocol_*_total{protocol="remote_write"}`.
    static let name = "remote_write"

    static func register(on router: Router<SluiceRequestContext>, state: ServerState, maxBodyBytes: Int) {
        let route = RemoteWriteRoute(ingest: ProtocolIngest(edge: state.edge, maxBodyBytes: maxBodyBytes))
        router.post("api/v1/write") { request, context in try await route.handle(request, context) }
    }

    func handle(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        try checkVersion(request)
        let (protocolContext, tenancy) = try ingest.context(request, context, protocol: Self.name)
        let body = try await ingest.body(request, protocol: Self.name, snappy: true)
        let decoded: RemoteWrite.Decoded
        do throws(ProtocolError) {
            decoded = try body.withUnsafeBufferPointer { bytes throws(ProtocolError) in
                try RemoteWrite.decode(bytes, context: protocolContext)
            }
        } catch {
            throw ingest.invalid(Self.name, error)
        }
        let path = request.uri.path
        let answer = try await ingest.submit(decoded.batch, tenancy: tenancy, protocol: Self.name, context: context) { outcome in
            guard !outcome.rejections.isEmpty else { return IngestAnswer(status: .noContent) }
            let shown = outcome.rejections.prefix(5).map(\.error.message).joined(separator: "; ")
            let more = outcome.rejections.count > 5 ? "; and \(outcome.rejections.count - 5) more" : ""
            return IngestAnswer(APIError.badRequest("\(outcome.rejections.count) rejected: \(shown)\(more); the other \(outcome.accepted) samples were taken"),
                                path: path)
        }
        ingest.skipped(decoded.notANumber, protocol: Self.name)
        return answer.response
    }

    /// Remote write 1.0 only: its body is snappy (the specification says must), and a 2.0
    /// sender is told to fall back, with the `415` the 2.0 specification asks for.
    private func checkVersion(_ request: Request) throws {
        if let version = request.headers[.init("X-Prometheus-Remote-Write-Version")!]?.trimmingWhitespace(), !version.hasPrefix("0.") {
            throw ingest.refused(Self.name, APIError(.unsupportedMediaType, "unsupported_version",
                "X-Prometheus-Remote-Write-Version \(version) is not accepted; Sluice takes remote write 1.0 (0.1.0): set protobuf_message: prometheus.WriteRequest"))
        }
        if let type = request.headers[.contentType], type.contains("proto="), !type.contains("proto=prometheus.WriteRequest") {
            throw ingest.refused(Self.name, APIError(.unsupportedMediaType, "unsupported_media_type",
                "Content-Type \(type) is not accepted; Sluice takes remote write 1.0 (proto=prometheus.WriteRequest)"))
        }
        let encoding = request.headers[.contentEncoding].map { $0.trimmingWhitespace().lowercased() } ?? ""
        guard encoding == "snappy" else {
            throw ingest.refused(Self.name, APIError(.unsupportedMediaType, "unsupported_encoding",
                "remote write bodies are snappy blocks: send Content-Encoding: snappy\(encoding.isEmpty ? "" : " (not \(encoding))")"))
        }
    }
}
