import FuzzCheck
import SluiceModel
import SluiceProtocols

/// InfluxDB line protocol bodies (`/api/v2/write`, `/write`); the first byte picks the
/// timestamp precision.
///
/// Properties, besides not crashing: records carry finite values, non-empty names and valid
/// tenants; every refusal names a line of the body.
@main
enum InfluxFuzz {
    static func main() { runFuzzer(fuzzInflux) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflux(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, body) = selector(data, size)
    let precision = InfluxPrecision.allCases[Int(choice) % InfluxPrecision.allCases.count]
    let context = ProtocolContext(tenantID: choice & 0x80 == 0 ? nil : "site-a", now: Timestamp(microseconds: 1_764_000_000_000_000),
                                  maximumLabels: 8, maximumLineBytes: 4096)
    let decoded = InfluxLineProtocol.decode(body, precision: precision, context: context)
    let lines = body.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
    checkBatch(decoded.batch, items: lines, body)
    return 0
}
