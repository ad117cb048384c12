#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel

/// One segment file (FORMAT.md): a 16-byte header, then block frames. `<id>.open` is being
/// written; `<id>.seg` is sealed, and only compaction and retention replace it (whole).
public struct SegmentFile: Sendable, Hashable, Comparable {
    public var id: UInt64
    public var sealed: Bool
    public var directory: String

    static let magic: [UInt8] = Array("SLUICESG".utf8)
    /// The format this Sluice writes: 2 stores windows with their sketches (FORMAT.md).
    static let version: UInt8 = 2
    /// The formats it reads.
    static let readableVersions: ClosedRange<UInt8> = 1...2
    static let headerBytes = 16

    public var name: String { Self.name(id: id, sealed: sealed) }
    public var path: String { "\(directory)/\(name)" }

    static func name(id: UInt64, sealed: Bool) -> String {
        let digits = String(id)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + (sealed ? ".seg" : ".open")
    }

    init(id: UInt64, sealed: Bool, directory: String) {
        self.id = id
        self.sealed = sealed
        self.directory = directory
    }

    /// Recognises a segment file name.
    init?(fileName: String, directory: String) {
        let sealed: Bool
        let stem: Substring
        if fileName.hasSuffix(".seg") { sealed = true; stem = fileName.dropLast(4) } else if fileName.hasSuffix(".open") { sealed = false; stem = fileName.dropLast(5) } else { return nil }
        guard stem.count == 20, let id = UInt64(stem) else { return nil }
        self.init(id: id, sealed: sealed, directory: directory)
    }

    public static func < (l: Self, r: Self) -> Bool { l.id < r.id }

    /// The header's flags byte (offset 9): its blocks are as the writer flushed them, and
    /// compaction has not rewritten them yet.
    static let asWrittenFlag: UInt8 = 1

    static func header(asWritten: Bool = false) -> [UInt8] {
        magic + [version, asWritten ? asWrittenFlag : 0, 0, 0, 0, 0, 0, 0]
    }

    /// A block's place in the file and what its header and summary say.
    public struct Block: Sendable, Hashable {
        public var offset: Int
        var header: BlockFrame.Header
        public var summary: BlockSummary
        /// The segment format its payload is in.
        var version: UInt8
        public var length: Int { header.frameLength }
        public var recordCount: Int { header.recordCount }
        public var minTime: Int64 { header.minTime }
        public var maxTime: Int64 { header.maxTime }
    }

    /// The result of walking a segment's frames.
    public struct Scan: Sendable {
        public var blocks: [Block] = []
        /// The end of the last whole, valid block.
        public var validLength = SegmentFile.headerBytes
        public var fileLength = 0
        /// The segment's format version.
        public var version = SegmentFile.version
        /// Its blocks are as the writer flushed them: compaction has yet to rewrite them.
        public var asWritten = false
        /// The first problem found, at an offset: where the good data ends.
        public var damage: (offset: Int, reason: String)?
    }

    /// Walks the file's frames. With `verify`, reads every payload and checks its checksum and
    /// that it decompresses and decodes; otherwise reads only headers and summaries.
    public func scan(verify: Bool) throws(StoreError) -> Scan {
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        return try scan(fd, verify: verify)
    }

    /// `scan(verify:)` through a descriptor already open on the file.
    func scan(_ fd: Int32, verify: Bool) throws(StoreError) -> Scan {
        var scan = Scan()
        scan.fileLength = try FileIO.size(fd, path)
        let head = try FileIO.pread(fd, path, offset: 0, count: Self.headerBytes)
        guard head.count == Self.headerBytes, Array(head[0..<8]) == Self.magic else {
            scan.validLength = 0
            scan.damage = (0, head.count < Self.headerBytes ? "the file header is incomplete" : "not a Sluice segment (bad magic)")
            return scan
        }
        guard Self.readableVersions.contains(head[8]) else {
            throw .usage("\(path) is segment format version \(head[8]); this Sluice reads versions \(Self.readableVersions.lowerBound) to \(Self.readableVersions.upperBound)")
        }
        scan.version = head[8]
        scan.asWritten = head[9] & Self.asWrittenFlag != 0
        var offset = Self.headerBytes
        while offset < scan.fileLength {
            let headerBytes = try FileIO.pread(fd, path, offset: offset, count: BlockFrame.headerBytes)
            guard headerBytes.count == BlockFrame.headerBytes else {
                scan.damage = (offset, "torn block: \(headerBytes.count) of the \(BlockFrame.headerBytes) header bytes")
                break
            }
            guard let header = BlockFrame.header(headerBytes) else {
                scan.damage = (offset, "no block header where one should start")
                break
            }
            guard offset + header.frameLength <= scan.fileLength else {
                scan.damage = (offset, "torn block: the frame needs \(header.frameLength) bytes, \(scan.fileLength - offset) remain")
                break
            }
            let summary: BlockSummary
            if verify {
                let frame = try FileIO.pread(fd, path, offset: offset, count: header.frameLength)
                guard BlockFrame.checksumMatches(frame, header),
                      BlockFrame.summaryChecksumMatches(Array(frame[0..<(BlockFrame.headerBytes + header.summaryLength)]), header) else {
                    scan.damage = (offset, "block checksum mismatch")
                    break
                }
                do {
                    summary = try BlockFrame.summary(frame, header)
                    _ = try BlockFrame.records(frame, header, version: scan.version)
                } catch {
                    scan.damage = (offset, "block does not decode: \(error)")
                    break
                }
            } else {
                let start = try FileIO.pread(fd, path, offset: offset, count: BlockFrame.headerBytes + header.summaryLength)
                guard BlockFrame.summaryChecksumMatches(start, header) else {
                    scan.damage = (offset, "block header or summary checksum mismatch")
                    break
                }
                guard let s = try? BlockSummary.decode(Array(start[BlockFrame.headerBytes...])) else {
                    scan.damage = (offset, "block summary does not decode")
                    break
                }
                summary = s
            }
            scan.blocks.append(Block(offset: offset, header: header, summary: summary, version: scan.version))
            offset += header.frameLength
            scan.validLength = offset
        }
        return scan
    }

    /// Reads and decodes the blocks `want` selects (checksums verified).
    public func records(blocks: [Block]) throws(StoreError) -> [StoredRecord] {
        guard !blocks.isEmpty else { return [] }
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        var out: [StoredRecord] = []
        for block in blocks {
            let frame = try FileIO.pread(fd, path, offset: block.offset, count: block.length)
            guard frame.count == block.length, BlockFrame.checksumMatches(frame, block.header) else {
                throw .corrupt("\(path): block at offset \(block.offset) fails its checksum (run sluice verify)")
            }
            out.append(contentsOf: try BlockFrame.records(frame, block.header, version: block.version))
        }
        return out
    }
}
