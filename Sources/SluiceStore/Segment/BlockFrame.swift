import SluiceModel
import SluicePipeline

/// What a block holds, readable without decompressing it: per (kind, tenant) the record count
/// and time range, and a small filter of the series names inside. Retention, `stats` and query
/// planning read only this.
public struct BlockSummary: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var kind: StoredRecord.Kind
        public var tenantID: String?
        public var count: UInt32
        public var minTime: Int64
        public var maxTime: Int64
    }

    public var entries: [Entry]
    /// A 256-bit Bloom filter (two probes) of the names in the block.
    var nameFilter: [UInt64]
    /// Answers to keyed requests whose records are in the block: written in the same frame,
    /// so a crash keeps a receipt exactly when it keeps the records.
    public var receipts: [IngestReceipt]

    init(entries: [Entry], nameFilter: [UInt64], receipts: [IngestReceipt] = []) {
        self.entries = entries
        self.nameFilter = nameFilter
        self.receipts = receipts
    }

    init(entries: [Entry], names: [String], receipts: [IngestReceipt] = []) {
        var filter = [UInt64](repeating: 0, count: 4)
        for name in names { Self.insert(name, &filter) }
        self.init(entries: entries, nameFilter: filter, receipts: receipts)
    }

    private static func probes(_ name: String) -> (Int, Int) {
        let h = StableHash.hash(name)
        return (Int(h & 0xFF), Int((h >> 32) & 0xFF))
    }

    private static func insert(_ name: String, _ filter: inout [UInt64]) {
        let (a, b) = probes(name)
        filter[a >> 6] |= 1 << UInt64(a & 63)
        filter[b >> 6] |= 1 << UInt64(b & 63)
    }

    /// `false` only when no record in the block has this name.
    public func mayContain(name: String) -> Bool {
        let (a, b) = Self.probes(name)
        return nameFilter[a >> 6] & (1 << UInt64(a & 63)) != 0 && nameFilter[b >> 6] & (1 << UInt64(b & 63)) != 0
    }

    public var recordCount: Int { entries.reduce(0) { $0 + Int($1.count) } }

    func encode() -> [UInt8] {
        var w = ByteWriter()
        w.varint(entries.count)
        for e in entries {
            w.u8(e.kind.rawValue)
            if let tenant = e.tenantID { w.u8(1); w.string(tenant) } else { w.u8(0) }
            w.varint(UInt64(e.count))
            w.signed(e.minTime)
            w.signed(e.maxTime)
        }
        for word in nameFilter { w.u64(word) }
        // Receipts follow the filter only when there are any: a block without them is
        // byte-for-byte what readers before receipts wrote and read.
        if !receipts.isEmpty {
            w.varint(receipts.count)
            for r in receipts {
                w.string(r.scope)
                w.string(r.key)
                w.signed(r.time)
                w.varint(r.status)
                w.string(r.contentType)
                w.varint(r.body.count)
                w.raw(r.body)
            }
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(StoreError) -> BlockSummary {
        var r = ByteReader(bytes)
        let n = try r.count(max: 1 << 20)
        var entries: [Entry] = []
        for _ in 0..<n {
            guard let kind = StoredRecord.Kind(rawValue: try r.u8()) else { throw .corrupt("unknown record kind in block summary") }
            let tenant: String? = try r.u8() == 1 ? try r.string() : nil
            entries.append(Entry(kind: kind, tenantID: tenant, count: UInt32(truncatingIfNeeded: try r.varint()), minTime: try r.signed(), maxTime: try r.signed()))
        }
        var filter: [UInt64] = []
        for _ in 0..<4 { filter.append(try r.u64()) }
        var receipts: [IngestReceipt] = []
        if !r.isAtEnd {
            let count = try r.count(max: 1 << 20)
            for _ in 0..<count {
                let scope = try r.string(), key = try r.string(), time = try r.signed()
                let status = try r.count(max: 999), contentType = try r.string()
                let length = try r.count()
                guard r.remaining >= length else { throw .corrupt("receipt body runs past the summary") }
                receipts.append(IngestReceipt(scope: scope, key: key, time: time, status: status, contentType: contentType,
                                              body: Array(r.bytes[r.offset..<(r.offset + length)])))
                r.offset += length
            }
            guard r.isAtEnd else { throw .corrupt("\(r.remaining) bytes after the block summary's receipts") }
        }
        return BlockSummary(entries: entries, nameFilter: filter, receipts: receipts)
    }
}

/// A block on disk (FORMAT.md, "Block frame"): a 44-byte header, the summary, the zstd payload.
struct BlockFrame {
    static let magic: UInt32 = 0x4B4C_4253  // "SBLK"
    static let headerBytes = 44

    struct Header: Sendable, Hashable {
        var payloadLength: Int
        var summaryLength: Int
        var recordCount: Int
        var rawLength: Int
        var minTime: Int64
        var maxTime: Int64
        /// Over header bytes 0–35, the summary and the payload.
        var checksum: UInt32
        /// Over header bytes 0–35 and the summary: lets a reader trust a summary without
        /// reading the payload.
        var summaryChecksum: UInt32

        var frameLength: Int { BlockFrame.headerBytes + summaryLength + payloadLength }
    }

    /// Encodes, compresses and frames `records` (and the receipts of the requests they came in).
    static func build(_ records: [StoredRecord], receipts: [IngestReceipt] = [], level: Int32) throws(StoreError) -> (bytes: [UInt8], summary: BlockSummary) {
        var builder = BlockBuilder()
        for r in records { builder.add(r) }
        builder.receipts = receipts
        return try build(builder, level: level)
    }

    /// Frames what a builder holds, compressing with `compressor` (a fresh one if `nil`).
    static func build(_ builder: BlockBuilder, level: Int32, compressor: Zstd.Compressor? = nil) throws(StoreError) -> (bytes: [UInt8], summary: BlockSummary) {
        let count = builder.count
        let (raw, summary) = builder.encode()
        let summaryBytes = summary.encode()
        let zstd: Zstd.Compressor
        if let compressor { zstd = compressor } else { zstd = try Zstd.Compressor() }
        // The header is written once the payload's length and checksum are known.
        var frame = [UInt8](repeating: 0, count: headerBytes)
        frame += summaryBytes
        let payloadLength = try zstd.compress(raw, level: level, appendingTo: &frame)
        var w = ByteWriter(capacity: headerBytes)
        w.u32(magic)
        w.u32(UInt32(payloadLength))
        w.u32(UInt32(summaryBytes.count))
        w.u32(UInt32(count))
        w.u32(UInt32(raw.count))
        w.i64(summary.entries.map(\.minTime).min() ?? 0)
        w.i64(summary.entries.map(\.maxTime).max() ?? 0)
        let summaryCRC = CRC32C.checksum(summaryBytes, seed: CRC32C.checksum(w.bytes))
        let payloadStart = headerBytes + summaryBytes.count
        w.u32(frame.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[payloadStart...]), seed: summaryCRC) })
        w.u32(summaryCRC)
        frame.replaceSubrange(0..<headerBytes, with: w.bytes)
        return (frame, summary)
    }

    /// Parses a header; `nil` when the bytes are not one (a torn or damaged frame).
    static func header(_ bytes: [UInt8]) -> Header? {
        guard bytes.count >= headerBytes else { return nil }
        var r = ByteReader(bytes)
        guard (try? r.u32()) == magic else { return nil }
        guard let payload = try? r.u32(), let summary = try? r.u32(), let count = try? r.u32(), let raw = try? r.u32(),
              let minTime = try? r.i64(), let maxTime = try? r.i64(), let crc = try? r.u32(), let summaryCRC = try? r.u32() else { return nil }
        guard raw <= 1 << 30, payload <= 1 << 30, summary <= 1 << 26 else { return nil }
        return Header(payloadLength: Int(payload), summaryLength: Int(summary), recordCount: Int(count), rawLength: Int(raw),
                      minTime: minTime, maxTime: maxTime, checksum: crc, summaryChecksum: summaryCRC)
    }

    /// Whether the frame's checksum matches (`frame` is the whole frame).
    static func checksumMatches(_ frame: [UInt8], _ header: Header) -> Bool {
        frame.withUnsafeBytes { raw in
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<36]))
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[headerBytes...]), seed: crc)
            return crc == header.checksum
        }
    }

    /// Whether the header and summary are intact (`headerAndSummary` is the frame's start).
    static func summaryChecksumMatches(_ headerAndSummary: [UInt8], _ header: Header) -> Bool {
        guard headerAndSummary.count == headerBytes + header.summaryLength else { return false }
        return headerAndSummary.withUnsafeBytes { raw in
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<36]))
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[headerBytes...]), seed: crc)
            return crc == header.summaryChecksum
        }
    }

    /// Decompresses and decodes a verified frame.
    static func records(_ frame: [UInt8], _ header: Header, version: UInt8) throws(StoreError) -> [StoredRecord] {
        let start = headerBytes + header.summaryLength
        let raw = try Zstd.decompress(frame[start..<(start + header.payloadLength)], expected: header.rawLength)
        let records = try BlockCodec.decode(raw, version: version)
        guard records.count == header.recordCount else { throw .corrupt("block holds \(records.count) records, its header says \(header.recordCount)") }
        return records
    }

    /// Decompresses a verified frame into its groups' columns.
    static func groups(_ frame: [UInt8], _ header: Header, version: UInt8) throws(StoreError) -> [BlockBuilder.Group] {
        let start = headerBytes + header.summaryLength
        let raw = try Zstd.decompress(frame[start..<(start + header.payloadLength)], expected: header.rawLength)
        return try BlockCodec.decodeGroups(raw, version: version)
    }

    static func summary(_ frame: [UInt8], _ header: Header) throws(StoreError) -> BlockSummary {
        try BlockSummary.decode(Array(frame[headerBytes..<(headerBytes + header.summaryLength)]))
    }
}
