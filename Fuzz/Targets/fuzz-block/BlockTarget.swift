import FuzzCheck
import SluiceModel
@testable import SluiceStore

/// The block codec: a block's payload after zstd (FORMAT.md, "Payload"), for segment format 1
/// or 2 (chosen by the first byte), decoded into records.
///
/// Properties, besides not crashing: a payload that decodes, re-encoded by the writer's codec,
/// decodes again; that second encoding is byte for byte what encoding it once more gives; and
/// the records come back equal (as a multiset: the writer groups records by series, so two
/// groups of one series in a crafted payload come back as one). Records holding a NaN are never
/// equal to themselves, so for those only the bytes are compared.
@main
enum BlockFuzz {
    static func main() { runFuzzer(fuzzBlock) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlock(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, input) = selector(data, size)
    let version: UInt8 = choice & 1 == 0 ? 2 : 1
    let payload = Array(input)
    guard let records = try? BlockCodec.decode(payload, version: version) else { return 0 }
    // What the writer writes is always the current version.
    let encoded = BlockCodec.encode(records)
    do {
        let bytes = input
        let again: [StoredRecord]
        do {
            again = try BlockCodec.decode(encoded)
        } catch {
            violated("\(records.count) decoded records, re-encoded, do not decode: \(error)", bytes)
        }
        guard BlockCodec.encode(again) == encoded else {
            violated("re-encoding \(records.count) records is not stable", bytes)
        }
        guard again.count == records.count else {
            violated("\(records.count) records came back as \(again.count)", bytes)
        }
        if records.allSatisfy({ $0 == $0 }), multiset(again) != multiset(records) {
            violated("records changed through a re-encoding: \(records) became \(again)", bytes)
        }
    }
    return 0
}

private func multiset(_ records: [StoredRecord]) -> [StoredRecord: Int] {
    records.reduce(into: [:]) { $0[$1, default: 0] += 1 }
}
