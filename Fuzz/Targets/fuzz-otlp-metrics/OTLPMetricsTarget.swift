import FuzzCheck
import SluiceModel
import SluiceProtocols

/// `POST /v1/metrics`: an `ExportMetricsServiceRequest`, protobuf when the first byte is even,
/// OTLP/JSON when it is odd. The decoder keeps cumulative state across requests (as the server
/// does), so inputs also meet streams earlier inputs started.
///
/// Properties, besides not crashing: a JSON body that decodes is valid JSON (`StrictJSON`), as
/// is one the JSON reader alone accepts; every record carries a finite value and its tenant
/// follows the tenant rules; refusals are numbered within the request's points.
@main
enum OTLPMetricsFuzz {
    static func main() { runFuzzer(fuzzOTLPMetrics) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOTLPMetrics(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, body) = selector(data, size)
    let encoding: OTLPEncoding = choice & 1 == 0 ? .protobuf : .json
    let context = ProtocolContext(tenantID: choice & 2 == 0 ? nil : "site-a", now: Timestamp(microseconds: 1_764_000_000_000_000))
    if encoding == .json {
        checkStrictness(body, accepted: (try? JSONParser.parse(body)) != nil, reader: "JSONParser")
    }
    guard let decoded = try? decoder.decode(body, encoding: encoding, context: context) else { return 0 }
    if encoding == .json { checkStrictness(body, accepted: true, reader: "the OTLP/JSON decoder") }
    checkBatch(decoded.batch, items: decoded.items, body)
    return 0
}

/// One decoder for the whole run, as the server keeps one.
let decoder = OTLPMetricsDecoder(state: OTLPCumulativeState(start: Timestamp(microseconds: 1_700_000_000_000_000), maximumStreams: 1_000))
