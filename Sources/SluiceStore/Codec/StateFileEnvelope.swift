import SluiceModel

/// The frame of a stage's checkpoint file (the token meter's, the anomaly detector's): an
/// 8-byte magic, a version byte, the CRC-32C of the body, then the body.
struct StateFileEnvelope {
    let magic: [UInt8]
    /// What the file holds, for messages ("token meter checkpoint").
    let what: String
    /// What starting afresh costs, for messages ("totals would restart from zero").
    let afresh: String

    func wrap(_ body: [UInt8], version: UInt8) -> [UInt8] {
        var w = BinaryWriter(capacity: body.count + 13)
        w.raw(magic)
        w.u8(version)
        w.u32(CRC32C.checksum(body))
        w.raw(body)
        return w.bytes
    }

    /// The version and body of `bytes` read from `path`; throws when it is not such a file, is
    /// a version outside `readable`, or fails its checksum.
    func unwrap(_ bytes: [UInt8], path: String, readable: ClosedRange<UInt8>) throws(StoreError) -> (version: UInt8, body: [UInt8]) {
        guard bytes.count >= 13, Array(bytes[0..<8]) == magic else { throw .corrupt("\(path) is not \(what)") }
        guard readable.contains(bytes[8]) else {
            let reads = readable.count == 1 ? "version \(readable.lowerBound)" : "versions \(readable.lowerBound) to \(readable.upperBound)"
            throw .usage("\(path) is checkpoint version \(bytes[8]); this Sluice reads \(reads); move it aside to start afresh (\(afresh))")
        }
        let body = Array(bytes[13...])
        var r = ByteReader(Array(bytes[9..<13]))
        guard try r.u32() == CRC32C.checksum(body) else {
            throw .corrupt("\(path) fails its checksum; move it aside to start afresh (\(afresh))")
        }
        return (bytes[8], body)
    }
}
