import Hummingbird
import NIOCore
import Synchronization
import SluiceModel
import SluicePipeline

/// `POST /api/v2/analytics/metrics` and `/cache`: the HTTP source. A JSON object, a JSON
/// array, or NDJSON of records, optionally gzip, handed to the ingest edge as one message; the
/// valid records go into the pipeline even when others are bad.
struct HTTPIngest: Sendable {
    let edge: IngestEdge
    let maxBodyBytes: Int

    /// Media types an ingest body may declare; none at all is taken as JSON.
    static let mediaTypes = ["application/json", "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"]

    func handle(_ request: Request, context: SluiceRequestContext, defaultKind: RecordKind) async throws -> Response {
        let mediaType = request.headers[.contentType].map { $0.split(separator: ";")[0].trimmingWhitespace().lowercased() }
        if let mediaType, !Self.mediaTypes.contains(mediaType) {
            throw APIError(.unsupportedMediaType, "unsupported_media_type",
                           "Content-Type \(mediaType) is not accepted; send \(Self.mediaTypes.joined(separator: ", ")) (NDJSON for several records, one per line)")
        }
        if let failure = edge.health?.failure {
            throw Self.refusal(.storeUnwritable(failure, held: false))
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large", "the body is larger than server.max_body_bytes (\(maxBodyBytes) bytes); send smaller batches")
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "the body is larger than server.max_body_bytes (\(maxBodyBytes) bytes); send smaller batches")
        }
        let inflated = try ProtocolIngest.decoded(body, request, limit: maxBodyBytes)
        let tenancy: IngestEdge.Tenancy = if case .tenant(let own) = context.identity { .tenant(own) } else { .any }
        let arrays = mediaType.map { $0 == "application/json" } ?? true
        let answer: IngestAnswer
        do throws(IngestRefusal) {
            // Decoded straight from the request's buffer (no copy), or from the inflated body.
            let batch = if let inflated {
                try inflated.withUnsafeBufferPointer { bytes throws(IngestRefusal) in
                    try edge.decode(message: bytes, arrays: arrays, tenancy: tenancy, defaultKind: defaultKind)
                }
            } else {
                try body.withUnsafeReadableBytes { bytes throws(IngestRefusal) in
                    try edge.decode(message: bytes.assumingMemoryBound(to: UInt8.self), arrays: arrays, tenancy: tenancy, defaultKind: defaultKind)
                }
            }
            // The answer is known before the records are handed over: they are taken whole or
            // not at all, and a keyed request's answer goes to the store with them.
            answer = Self.answer(accepted: batch.records.count, rejections: batch.rejections)
            _ = try await edge.submit(batch, tenancy: tenancy, ticket: context.idempotency,
                                      receipt: answer.receipt(context.idempotency, at: edge.now().microseconds))
        } catch {
            throw Self.refusal(error)
        }
        return answer.response
    }

    /// `202 {"accepted": n}`, or `400` with the rejected lines (the first 100) and their reasons.
    static func answer(accepted: Int, rejections: [LineError]) -> IngestAnswer {
        var json = JSONWriter()
        json.beginObject()
        json.key("accepted"); json.integer(accepted)
        if !rejections.isEmpty {
            json.key("rejected")
            json.beginArray()
            for r in rejections.prefix(100) {
                json.beginObject()
                json.key("line"); json.integer(r.line)
                json.key("reason"); json.string(r.error.message)
                json.endObject()
            }
            json.endArray()
            if rejections.count > 100 { json.key("rejected_total"); json.integer(rejections.count) }
        }
        json.endObject()
        json.newline()
        return IngestAnswer(status: rejections.isEmpty ? .accepted : .badRequest, contentType: "application/json", body: json.bytes)
    }

    /// The answer to a message the edge refused whole.
    static func refusal(_ refusal: IngestRefusal) -> APIError {
        switch refusal {
        case .invalid(let message):
            return APIError.badRequest(message)
        case .foreignTenant(let other, let own):
            return APIError.forbidden("a record names tenant \(other ?? "null"), but this token writes for \(own) only; nothing in the request was accepted")
        case .rateLimited(let wait):
            return APIError(.tooManyRequests, "rate_limited", "over server.tenant_records_per_second; retry in \(wait) s", headers: [.retryAfter: String(wait)])
        case .pipelineFull(let timeout):
            return APIError(.serviceUnavailable, "pipeline_full", "the pipeline stayed full for \(timeout); nothing was accepted; retry", headers: [.retryAfter: "1"])
        case .notDurable:
            return APIError(.serviceUnavailable, "not_durable", "the records are in the pipeline but were not confirmed durable in time; retry with the same Idempotency-Key so that they are counted once",
                            headers: [.retryAfter: "1"])
        case .clusterUnavailable(let reason):
            return APIError(.serviceUnavailable, "cluster_unavailable",
                            "the cluster's stream did not confirm the records (\(reason)); retry with the same Idempotency-Key so that they are counted once",
                            headers: [.retryAfter: "1"])
        case .storeUnwritable(let reason, let held):
            // `held`: the records were taken before the failure and are held in memory until
            // the store writes again, so they are not yet durable.
            let what = held
                ? "these records are held in memory and will be written when the store can write again, but they are not durable yet"
                : "nothing in the request was accepted"
            return APIError(.insufficientStorage, "store_unwritable", "the store cannot write (\(reason)); \(what); retry once space is freed",
                            headers: [.retryAfter: "5"])
        }
    }
}
