import SluiceModel
import SluicePipeline

/// `ExportTraceServiceRequest` (protobuf or OTLP/JSON) to records (design §10).
///
/// - A server span (kind 2) with `http.route` → a `performance` record: `response_time` is
///   its duration in milliseconds, at its end time. Labels: the resource's identifying attributes (`OTLP.resourceLabels`), `route`,
///   and the span's `http.request.method` and `http.response.status_code` (bounded sets; other
///   span attributes such as URLs and client addresses would make a series per request).
/// - A span with `gen_ai.usage.input_tokens` or `gen_ai.usage.output_tokens` (GenAI semantic
///   conventions) → a `token_usage` record: the model is `gen_ai.response.model`, else
///   `gen_ai.request.model`; cached tokens are `gen_ai.usage.cache_read.input_tokens` (part of
///   the input tokens); `request_id` is the trace id and span id in hex, so a span exported
///   twice is counted once. It needs a tenant: the span's `tenant_id` attribute, else the
///   resource's, else the request's.
/// - Any other span is skipped (and counted as skipped). A span may be both.
///
/// Each refused span is numbered in request order.
public enum OTLPTracesDecoder {
    /// The span attributes read, current names first, then names older SDKs still send.
    enum Attribute {
        static let route = "http.route"
        static let method = ["http.request.method", "http.method"]
        static let statusCode = ["http.response.status_code", "http.status_code"]
        static let inputTokens = ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"]
        static let outputTokens = ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"]
        static let cachedTokens = ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"]
        static let model = ["gen_ai.response.model", "gen_ai.request.model"]
    }

    /// Decodes one request body. Throws when the body is not an OTLP message at all; spans
    /// that cannot be taken are refused one by one in the batch.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, encoding: OTLPEncoding, context: ProtocolContext) throws(ProtocolError) -> OTLPDecoded {
        let request = switch encoding {
        case .protobuf: try OTLPProtobuf.tracesRequest(bytes)
        case .json: try OTLPJSON.tracesRequest(bytes)
        }
        var out = OTLPDecoded()
        for resource in request.resources {
            let resourcePairs = OTLP.resourceLabels(resource.attributes)
            for scope in resource.scopes {
                for span in scope.spans {
                    out.items += 1
                    do throws(DecodeError) {
                        let records = try self.records(span, resource: resourcePairs, context: context)
                        if records.isEmpty { out.skipped += 1 }
                        for record in records { out.batch.append(record) }
                    } catch {
                        out.batch.reject(out.items, DecodeError(error.reason, "span \(out.items) \"\(span.name)\": \(error.message)"))
                    }
                }
            }
        }
        return out
    }

    /// The records one span makes: none, a performance record, a token-usage record or both.
    static func records(_ span: OTLP.Span, resource: [Labels.Label], context: ProtocolContext) throws(DecodeError) -> [Record] {
        let route = OTLP.attribute(Attribute.route, in: span.attributes)
        let isHTTPServer = span.kind == OTLP.serverKind && route != nil
        let input = first(Attribute.inputTokens, in: span.attributes)
        let output = first(Attribute.outputTokens, in: span.attributes)
        let isGenAI = input != nil || output != nil
        guard isHTTPServer || isGenAI else { return [] }

        guard let end = OTLP.timestamp(span.endTime, context: context), span.endTime != 0 else {
            throw DecodeError(.badTimestamp, "end_time_unix_nano \(span.endTime) is not a time between 1970 and 2262")
        }
        // The span's own `tenant_id` attribute wins over the resource's.
        var pairs = resource
        if let tenant = OTLP.attribute(ProtocolContext.tenantLabel, in: span.attributes) {
            pairs.append(Labels.Label(key: ProtocolContext.tenantLabel, value: tenant.labelValue))
        }
        var records: [Record] = []
        if isHTTPServer, let route {
            guard span.startTime != 0, span.startTime <= span.endTime else {
                throw DecodeError(.outOfRange, "start_time_unix_nano \(span.startTime) is not a time before the span's end \(span.endTime)")
            }
            var labels = pairs
            labels.append(Labels.Label(key: "route", value: route.labelValue))
            if let method = first(Attribute.method, in: span.attributes) {
                labels.append(Labels.Label(key: Attribute.method[0], value: method.labelValue))
            }
            if let status = first(Attribute.statusCode, in: span.attributes) {
                labels.append(Labels.Label(key: Attribute.statusCode[0], value: status.labelValue))
            }
            let (tenant, split) = try context.tenantAndLabels(labels).get()
            let milliseconds = Double(span.endTime - span.startTime) / 1_000_000
            if let problem = context.check(value: milliseconds, time: end) { throw problem }
            records.append(.performance(PerformanceRecord(timestamp: end, tenantID: tenant, labels: split, responseTime: milliseconds)))
        }
        if isGenAI {
            let (tenant, _) = try context.tenantAndLabels(pairs.filter { $0.key == ProtocolContext.tenantLabel }).get()
            guard let tenant else {
                throw DecodeError(.missingField, "a GenAI span needs a tenant: a tenant_id attribute on the span or its resource, or a tenant token or X-Scope-OrgID")
            }
            guard let model = first(Attribute.model, in: span.attributes)?.labelValue, !model.isEmpty else {
                throw DecodeError(.missingField, "a GenAI span needs gen_ai.response.model or gen_ai.request.model")
            }
            let prompt = try tokens(input, Attribute.inputTokens[0])
            let completion = try tokens(output, Attribute.outputTokens[0])
            let cached = try tokens(first(Attribute.cachedTokens, in: span.attributes), Attribute.cachedTokens[0])
            guard cached <= prompt else {
                throw DecodeError(.outOfRange, "\(Attribute.cachedTokens[0]) (\(cached)) exceeds \(Attribute.inputTokens[0]) (\(prompt))")
            }
            guard !span.traceID.isEmpty, !span.spanID.isEmpty else {
                throw DecodeError(.missingField, "a GenAI span needs its trace_id and span_id (they make the request_id that counts it once)")
            }
            records.append(.tokenUsage(TokenUsageRecord(
                timestamp: end, tenantID: tenant, model: model, promptTokens: prompt, completionTokens: completion,
                cachedTokens: cached, requestID: OTLP.hex(span.traceID) + OTLP.hex(span.spanID))))
        }
        return records
    }

    private static func first(_ keys: [String], in attributes: [OTLP.KeyValue]) -> OTLP.AnyValue? {
        for key in keys { if let value = OTLP.attribute(key, in: attributes) { return value } }
        return nil
    }

    private static func tokens(_ value: OTLP.AnyValue?, _ name: String) throws(DecodeError) -> UInt64 {
        guard let value else { return 0 }
        guard let count = value.count else { throw DecodeError(.wrongType, "\(name) must be a non-negative integer, not \(value.labelValue)") }
        return count
    }
}
