import FuzzCheck
import SluiceModel
import SluiceProtocols

/// `POST /api/v1/write`: a snappy block holding a `prometheus.WriteRequest`. With an even first
/// byte the rest is the snappy body, as the route gets it; with an odd one it is the protobuf
/// itself (so mutations reach the message decoder without first having to form valid snappy),
/// and the target also wraps it in a snappy block of literals, which must decompress to it.
///
/// Properties, besides not crashing: decompression never exceeds its limit; the literal
/// block round-trips; records carry finite values and valid tenants.
@main
enum RemoteWriteFuzz {
    static func main() { runFuzzer(fuzzRemoteWrite) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRemoteWrite(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, input) = selector(data, size)
    let limit = 1 << 16
    let context = ProtocolContext(tenantID: choice & 2 == 0 ? nil : "site-a", now: Timestamp(microseconds: 1_764_000_000_000_000))
    if choice & 1 == 0 {
        guard let message = try? Snappy.decompress(input, limit: limit) else { return 0 }
        guard message.count <= limit else { violated("\(message.count) bytes decompressed, over the limit of \(limit)", input) }
        message.withUnsafeBufferPointer { decode($0, context, input) }
    } else {
        let block = literalBlock(input)
        let message = block.withUnsafeBufferPointer { try? Snappy.decompress($0, limit: limit) }
        guard input.count > limit || message == Array(input) else {
            violated("a snappy block of literals does not decompress to its bytes", input)
        }
        decode(input, context, input)
    }
    return 0
}

private func decode(_ message: UnsafeBufferPointer<UInt8>, _ context: ProtocolContext, _ input: UnsafeBufferPointer<UInt8>) {
    guard let decoded = try? RemoteWrite.decode(message, context: context) else { return }
    checkBatch(decoded.batch, items: nil, input)
}

/// The bytes as a snappy block of literals of up to 60 bytes each (format_description.txt:
/// the length as a varint, then each literal's tag `(length - 1) << 2` and its bytes), written
/// here from the format, independently of the decoder.
private func literalBlock(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    var n = bytes.count
    repeat {
        out.append(UInt8(n & 0x7F) | (n >= 0x80 ? 0x80 : 0))
        n >>= 7
    } while n > 0
    var i = 0
    while i < bytes.count {
        let length = min(60, bytes.count - i)
        out.append(UInt8(length - 1) << 2)
        out.append(contentsOf: bytes[i..<(i + length)])
        i += length
    }
    return out
}
