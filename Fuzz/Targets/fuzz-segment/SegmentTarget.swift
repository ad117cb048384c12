#if canImport(Glibc)
import Glibc
#endif
import FuzzCheck
import SluiceModel
@testable import SluiceStore

/// The segment reader: a whole segment file, as recovery, `verify` and queries read it.
///
/// The first byte chooses whether the target first recomputes each frame's two checksums, so
/// that mutations get past them into the headers' lengths and counts and the summaries. The
/// rest is the file, written to a scratch directory and read back through the real code.
///
/// Properties, besides not crashing:
/// - the scan accounts for the file: blocks follow each other from the header, the valid
///   length is where the last one ends, and any bytes beyond it are reported as damage;
/// - a quick scan (headers and summaries) finds at least the blocks a verifying scan does, at
///   the same offsets with the same summaries;
/// - every block a verifying scan passed reads back with as many records as its header says.
@main
enum SegmentFuzz {
    static func main() { runFuzzer(fuzzSegment) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSegment(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, input) = selector(data, size)
    var file = Array(input)
    if choice & 1 == 1 { fixChecksums(&file) }
    let segment = SegmentFile(id: 1, sealed: true, directory: scratch)
    let fd = open(segment.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0, file.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == file.count else {
        fatalError("cannot write \(segment.path): errno \(errno)")
    }
    close(fd)

    let verified: SegmentFile.Scan
    let quick: SegmentFile.Scan
    do {
        verified = try segment.scan(verify: true)
        quick = try segment.scan(verify: false)
    } catch {
        // A version this Sluice does not read: refused with a message, as it should be.
        return 0
    }
    file.withUnsafeBufferPointer { bytes in
        var end = SegmentFile.headerBytes
        for block in verified.blocks {
            guard block.offset == end else { violated("block at \(block.offset), the previous one ended at \(end)", bytes) }
            end += block.length
        }
        if !verified.blocks.isEmpty || verified.validLength != 0 {
            guard verified.validLength == end else { violated("valid length \(verified.validLength), blocks end at \(end)", bytes) }
        }
        guard verified.validLength == file.count || verified.damage != nil else {
            violated("\(file.count - verified.validLength) bytes after the last block and no damage reported", bytes)
        }
        guard quick.blocks.count >= verified.blocks.count,
              zip(quick.blocks, verified.blocks).allSatisfy({ $0.offset == $1.offset && $0.summary == $1.summary })
        else { violated("the quick scan disagrees with the verifying scan", bytes) }
        for block in verified.blocks {
            do {
                let records = try segment.records(blocks: [block])
                guard records.count == block.recordCount else {
                    violated("block at \(block.offset) read \(records.count) records, its header says \(block.recordCount)", bytes)
                }
            } catch {
                violated("block at \(block.offset) passed verification but does not read: \(error)", bytes)
            }
        }
    }
    return 0
}

/// A directory of this process's own for the file under test.
let scratch: String = {
    let base = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
    let path = "\(base)/sluice-fuzz-segment-\(getpid())"
    mkdir(path, 0o755)
    atexit {
        unlink("\(scratch)/\(SegmentFile.name(id: 1, sealed: true))")
        rmdir(scratch)
    }
    return path
}()

/// Recomputes the checksums of every frame that fits in the file, as the writer computes them
/// (FORMAT.md, "Block frame").
private func fixChecksums(_ file: inout [UInt8]) {
    var offset = SegmentFile.headerBytes
    while offset + BlockFrame.headerBytes <= file.count,
          let header = BlockFrame.header(Array(file[offset..<(offset + BlockFrame.headerBytes)])),
          offset + header.frameLength <= file.count {
        let summaryEnd = offset + BlockFrame.headerBytes + header.summaryLength
        let summaryCRC = CRC32C.checksum(Array(file[summaryEnd - header.summaryLength..<summaryEnd]),
                                         seed: CRC32C.checksum(Array(file[offset..<(offset + 36)])))
        let crc = CRC32C.checksum(Array(file[summaryEnd..<(offset + header.frameLength)]), seed: summaryCRC)
        withUnsafeBytes(of: crc.littleEndian) { file.replaceSubrange((offset + 36)..<(offset + 40), with: $0) }
        withUnsafeBytes(of: summaryCRC.littleEndian) { file.replaceSubrange((offset + 40)..<(offset + 44), with: $0) }
        guard header.frameLength > 0 else { break }
        offset += header.frameLength
    }
}
