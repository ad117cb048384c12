import Hummingbird
import NIOCore
import SluiceModel
import SluicePipeline
import SluiceProtocols

/// The HTTP side of every protocol besides NDJSON (design §10): OTLP, remote write and the
/// Influx line protocol. One path for all of them, so each inherits the same body limit,
/// `Content-Encoding`, tenant rules, counters and refusals as `HTTPIngest`:
///
/// 1. `body` reads the request under `server.max_body_bytes` and inflates gzip, refusing a body
///    that would inflate past the same limit.
/// 2. `context` works out whose records these are: the token's tenant, or for an admin token
///    `X-Scope-OrgID` (as Mimir and Cortex do); a tenant token naming another tenant is `403`.
/// 3. The protocol's decoder turns the bytes into a `DecodedBatch`: records, and the items it
///    refused with their position and reason.
/// 4. `submit` hands the batch to the ingest edge and counts it per protocol.
struct ProtocolIngest: Sendable {
    let edge: IngestEdge
    let maxBodyBytes: Int

    /// What the edge took, for the protocol's own answer.
    struct Outcome {
        var accepted: Int
        var rejections: [LineError]

        /// The first few refusals, for a protocol's one-line error message.
        func summary(limit: Int = 5) -> String? {
            guard !rejections.isEmpty else { return nil }
            var text = rejections.prefix(limit).map(\.description).joined(separator: "; ")
            if rejections.count > limit { text += "; and \(rejections.count - limit) more" }
            return "\(rejections.count) rejected: \(text)"
        }
    }

    /// The request body, read under `server.max_body_bytes` and inflated when it says
    /// `Content-Encoding: gzip` (or `deflate`), or `snappy` for a protocol whose bodies are
    /// snappy blocks (remote write). `identity` and none are taken as they are.
    func body(_ request: Request, protocol name: String, snappy: Bool = false) async throws -> [UInt8] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw refused(name, APIError(.contentTooLarge, "body_too_large", "the body is larger than server.max_body_bytes (\(maxBodyBytes) bytes); send smaller batches"))
        } catch is NIOTooManyBytesError {
            throw refused(name, APIError(.contentTooLarge, "body_too_large", "the body is larger than server.max_body_bytes (\(maxBodyBytes) bytes); send smaller batches"))
        }
        do {
            return try Self.decoded(buffer, request, limit: maxBodyBytes, snappy: snappy) ?? Array(buffer.readableBytesView)
        } catch {
            throw refused(name, error)
        }
    }

    /// The body inflated, when `Content-Encoding` says gzip (or deflate); `nil` when it is sent
    /// as it is. Refuses an encoding it does not know (`415`) and a corrupt or over-long body.
    /// `snappy` takes snappy blocks too, decompressed under the same limit.
    static func decoded(_ buffer: ByteBuffer, _ request: Request, limit: Int, snappy: Bool = false) throws(APIError) -> [UInt8]? {
        let encoding = request.headers[.contentEncoding].map { $0.trimmingWhitespace().lowercased() } ?? "identity"
        switch encoding {
        case "identity", "":
            return nil
        case "gzip", "x-gzip", "deflate":
            do throws(ProtocolError) {
                return try buffer.withUnsafeReadableBytes { bytes throws(ProtocolError) in
                    try Gzip.inflate(bytes.assumingMemoryBound(to: UInt8.self), limit: limit)
                }
            } catch {
                throw APIError.badRequest(error.message)
            }
        case "snappy" where snappy:
            do throws(ProtocolError) {
                return try buffer.withUnsafeReadableBytes { bytes throws(ProtocolError) in
                    try Snappy.decompress(bytes.assumingMemoryBound(to: UInt8.self), limit: limit)
                }
            } catch {
                throw APIError.badRequest(error.message)
            }
        default:
            throw APIError(.unsupportedMediaType, "unsupported_encoding", "Content-Encoding \(encoding) is not accepted; send the body as it is, or gzip")
        }
    }

    /// Whose records the request carries (design §10), as a decoder context and the edge's
    /// tenancy. `X-Scope-OrgID` names the tenant for an admin token; a tenant token may only
    /// name its own.
    func context(_ request: Request, _ context: SluiceRequestContext, protocol name: String) throws -> (ProtocolContext, IngestEdge.Tenancy) {
        let now = edge.now()
        let orgID = request.headers[.init("X-Scope-OrgID")!].map { String($0.trimmingWhitespace()) }
        if let orgID, let problem = TenantID.problem(orgID) {
            throw refused(name, APIError.badRequest("X-Scope-OrgID: \(problem)"))
        }
        let decoder = edge.configuration.decoder
        switch context.identity {
        case .admin:
            return (ProtocolContext(tenantID: orgID, now: now, decoder: decoder), .any)
        case .tenant(let own):
            if let orgID, orgID != own {
                throw refused(name, APIError.forbidden("X-Scope-OrgID names tenant \(orgID), but this token writes for \(own) only; nothing in the request was accepted"))
            }
            return (ProtocolContext(tenantID: own, now: now, decoder: decoder), .tenant(own))
        }
    }

    /// Hands a decoded batch to the edge and counts it under the protocol's name. A batch of
    /// refusals only is taken too (nothing to enqueue), so its reasons are counted. `answer`
    /// turns what is taken into the protocol's reply; it is made before the records are handed
    /// over, so that a request with an `Idempotency-Key` stores it with them.
    func submit(_ batch: DecodedBatch, tenancy: IngestEdge.Tenancy, protocol name: String, context: SluiceRequestContext,
                answer: (Outcome) -> IngestAnswer) async throws -> IngestAnswer {
        let counters = edge.counters
        counters.add(Self.counter("requests", name), 1)
        let outcome = Outcome(accepted: batch.records.count, rejections: batch.rejections)
        let reply = answer(outcome)
        do throws(IngestRefusal) {
            _ = try await edge.submit(batch, tenancy: tenancy, ticket: context.idempotency,
                                      receipt: reply.receipt(context.idempotency, at: edge.now().microseconds))
            counters.add(Self.counter("samples", name), UInt64(outcome.accepted))
            counters.add(Self.counter("rejected", name), UInt64(outcome.rejections.count))
            return reply
        } catch {
            counters.add(Self.counter("refused", name), 1)
            throw HTTPIngest.refusal(error)
        }
    }

    /// Refuses a whole request, counting it for the protocol.
    func refused(_ name: String, _ error: APIError) -> APIError {
        edge.counters.add(Self.counter("requests", name), 1)
        edge.counters.add(Self.counter("refused", name), 1)
        return error
    }

    /// A decoder's whole-message failure: `400` with its reason.
    func invalid(_ name: String, _ error: ProtocolError) -> APIError {
        refused(name, APIError.badRequest(error.message))
    }

    /// Counts something a protocol skipped on purpose (Influx string fields, spans that are
    /// neither HTTP server spans nor GenAI calls, remote-write NaN samples).
    func skipped(_ n: Int, protocol name: String) {
        edge.counters.add(Self.counter("skipped", name), UInt64(n))
    }

    /// The name under which `PipelineCounters` keeps a per-protocol count; `/metrics` shows it
    /// as `sluice_protocol_<what>_total{protocol="<name>"}`.
    static func counter(_ what: String, _ name: String) -> String { "protocol_\(what).\(name)" }
}
