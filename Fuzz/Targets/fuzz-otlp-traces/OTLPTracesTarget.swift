import FuzzCheck
import SluiceModel
import SluiceProtocols

/// `POST /v1/traces`: an `ExportTraceServiceRequest`, protobuf when the first byte is even,
/// OTLP/JSON when it is odd.
///
/// Properties, besides not crashing: a JSON body that decodes is valid JSON (`StrictJSON`);
/// records carry finite values and valid tenants; refusals are numbered within the spans.
@main
enum OTLPTracesFuzz {
    static func main() { runFuzzer(fuzzOTLPTraces) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOTLPTraces(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, body) = selector(data, size)
    let encoding: OTLPEncoding = choice & 1 == 0 ? .protobuf : .json
    let context = ProtocolContext(tenantID: choice & 2 == 0 ? nil : "site-a", now: Timestamp(microseconds: 1_764_000_000_000_000))
    guard let decoded = try? OTLPTracesDecoder.decode(body, encoding: encoding, context: context) else { return 0 }
    if encoding == .json { checkStrictness(body, accepted: true, reader: "the OTLP/JSON decoder") }
    checkBatch(decoded.batch, items: decoded.items, body)
    for record in decoded.batch.records {
        if case .tokenUsage(let usage) = record, usage.cachedTokens > usage.promptTokens {
            violated("token usage with \(usage.cachedTokens) cached of \(usage.promptTokens) prompt tokens", body)
        }
    }
    return 0
}
