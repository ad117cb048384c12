import Foundation
import SluiceModel
import SluicePipeline
import Testing
@testable import SluiceProtocols

@Suite("OTLP traces: HTTP server spans and GenAI calls")
struct OTLPTracesDecoderTests {
    static func spans() -> [[String: Any]] { OTLPFixtures.expected()["traces"] as! [[String: Any]] }

    @Test("server spans with a route become response times; GenAI spans become token usage; the rest is skipped",
          arguments: ["traces.pb", "traces.json"])
    func mapsSpans(file: String) throws {
        let decoded = try OTLPFixtures.decodeTraces(file)
        let spans = Self.spans()
        #expect(decoded.items == spans.count)
        #expect(decoded.batch.rejections.isEmpty)
        #expect(decoded.skipped == 1, "the internal span")

        let performance = decoded.batch.records.compactMap { if case .performance(let p) = $0 { p } else { nil } }
        let servers = spans.filter { OTLPFixtures.int($0["kind"]) == 1 } // Python's SpanKind.SERVER.value
        #expect(performance.count == servers.count)
        for (record, span) in zip(performance, servers) {
            let attributes = span["attributes"] as! [String: Any]
            let start = OTLPFixtures.nanoseconds(span["start"]!), end = OTLPFixtures.nanoseconds(span["end"]!)
            #expect(record.responseTime == Double(end - start) / 1_000_000)
            #expect(record.timestamp == Timestamp(nanoseconds: Int64(end)))
            #expect(record.labels["route"] == attributes["http.route"] as? String)
            #expect(record.labels["http.request.method"] == "GET")
            #expect(record.labels["http.response.status_code"] == "\(OTLPFixtures.int(attributes["http.response.status_code"]))")
            #expect(record.labels["service.name"] == "api")
            #expect(record.labels["url.path"] == nil, "per-request attributes are not labels")
        }

        let usage = decoded.batch.records.compactMap { if case .tokenUsage(let t) = $0 { t } else { nil } }
        let genAI = try #require(spans.first { ($0["attributes"] as! [String: Any])["gen_ai.usage.input_tokens"] != nil })
        let attributes = genAI["attributes"] as! [String: Any]
        #expect(usage.count == 1)
        let record = try #require(usage.first)
        #expect(record.tenantID == attributes["tenant_id"] as? String)
        #expect(record.model == attributes["gen_ai.response.model"] as? String)
        #expect(record.promptTokens == UInt64(OTLPFixtures.int(attributes["gen_ai.usage.input_tokens"])))
        #expect(record.completionTokens == UInt64(OTLPFixtures.int(attributes["gen_ai.usage.output_tokens"])))
        #expect(record.cachedTokens == UInt64(OTLPFixtures.int(attributes["gen_ai.usage.cache_read.input_tokens"])))
        #expect(record.requestID == (genAI["trace_id"] as! String) + (genAI["span_id"] as! String))
        #expect(record.timestamp == Timestamp(nanoseconds: Int64(OTLPFixtures.nanoseconds(genAI["end"]!))))
    }

    @Test("OTLP/JSON and protobuf of the same spans give the same records")
    func encodingsAgree() throws {
        let a = try OTLPFixtures.decodeTraces("traces.pb")
        let b = try OTLPFixtures.decodeTraces("traces.json")
        #expect(a.batch.records == b.batch.records)
        #expect(a.skipped == b.skipped)
    }

    /// Hand-written OTLP/JSON for the refusals: spans the SDK would not make.
    static func request(_ spans: String, resource: String = "[]") -> [UInt8] {
        Array(#"{"resourceSpans":[{"resource":{"attributes":\#(resource)},"scopeSpans":[{"spans":[\#(spans)]}]}]}"#.utf8)
    }

    static func span(_ attributes: String, kind: Int = 3, start: String = "1790000000000000000", end: String = "1790000000250000000") -> String {
        #"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"call","kind":\#(kind),"startTimeUnixNano":"\#(start)","endTimeUnixNano":"\#(end)","attributes":[\#(attributes)]}"#
    }

    static func decode(_ body: [UInt8], tenant: String? = nil) throws -> OTLPDecoded {
        try body.withUnsafeBufferPointer { try OTLPTracesDecoder.decode($0, encoding: .json, context: OTLPFixtures.context(tenant: tenant)) }
    }

    @Test("a GenAI span needs a tenant: from the span, its resource, or the request")
    func genAITenant() throws {
        let usage = #"{"key":"gen_ai.usage.input_tokens","value":{"intValue":"10"}},{"key":"gen_ai.request.model","value":{"stringValue":"m"}}"#
        let none = try Self.decode(Self.request(Self.span(usage)))
        #expect(none.batch.records.isEmpty)
        #expect(none.batch.rejections.map(\.line) == [1])
        #expect(none.batch.rejections.first?.error.reason == .missingField)
        #expect(none.batch.rejections.first?.error.message.hasPrefix("span 1 \"call\": a GenAI span needs a tenant") == true)

        let fromRequest = try Self.decode(Self.request(Self.span(usage)), tenant: "t1")
        let fromResource = try Self.decode(Self.request(Self.span(usage), resource: #"[{"key":"tenant_id","value":{"stringValue":"t2"}}]"#), tenant: "t1")
        let fromSpan = try Self.decode(Self.request(Self.span(usage + #",{"key":"tenant_id","value":{"stringValue":"t3"}}"#),
                                                    resource: #"[{"key":"tenant_id","value":{"stringValue":"t2"}}]"#), tenant: "t1")
        #expect(fromRequest.batch.records.map(\.tenantID) == ["t1"])
        #expect(fromResource.batch.records.map(\.tenantID) == ["t2"])
        #expect(fromSpan.batch.records.map(\.tenantID) == ["t3"])
        if case .tokenUsage(let record) = fromSpan.batch.records[0] {
            #expect(record.promptTokens == 10)
            #expect(record.completionTokens == 0)
            #expect(record.requestID == "5b8efff798038103d269b633813fc60ceee19b7ec3c1b174")
        } else {
            Issue.record("expected a token_usage record")
        }
    }

    @Test("bad spans are refused by number with a reason; the others are kept")
    func refusesBadSpans() throws {
        let model = #"{"key":"gen_ai.request.model","value":{"stringValue":"m"}}"#
        let spans = [
            Self.span(#"{"key":"http.route","value":{"stringValue":"/ok"}}"#, kind: 2),
            Self.span(#"{"key":"gen_ai.usage.input_tokens","value":{"intValue":"-3"}},"# + model),
            Self.span(#"{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}},{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"6"}},"# + model),
            Self.span(#"{"key":"gen_ai.usage.output_tokens","value":{"intValue":"5"}}"#),
            Self.span(#"{"key":"http.route","value":{"stringValue":"/late"}}"#, kind: 2, start: "1790000000300000000"),
            Self.span(#"{"key":"http.route","value":{"stringValue":"/x"}}"#, kind: 3),
        ]
        let decoded = try Self.decode(Self.request(spans.joined(separator: ",")), tenant: "t")
        #expect(decoded.batch.records.count == 1)
        #expect(decoded.skipped == 1, "a client span with a route is no server span")
        #expect(decoded.batch.rejections.map(\.line) == [2, 3, 4, 5])
        #expect(decoded.batch.rejections.map(\.error.reason) == [.wrongType, .outOfRange, .missingField, .outOfRange])
        if case .performance(let p) = decoded.batch.records.first {
            #expect(p.responseTime == 250)
        } else {
            Issue.record("expected a performance record")
        }
    }
}
