#if canImport(Glibc)
import Glibc
#endif
import Testing
import SluiceModel
import SluiceTesting
@testable import SluiceStore

@Suite("Crash recovery")
struct RecoveryTests {
    @Test("a segment cut at every byte of its last two blocks recovers every whole block, and reports the cut")
    func truncateEverywhere() throws {
        let (directory, segment, ends) = try StoreTestSupport.openSegment(blocks: 4, perBlock: 50)
        let original = try FileIO.readFile(segment.path)
        let firstCut = ends[1]
        for length in stride(from: firstCut, through: original.count, by: 1) {
            // Start from the intact file each time, cut, recover.
            for s in try directory.segments() { try FileIO.remove(s.path) }
            _ = TestFiles.write(segment.path, Array(original[0..<length]))
            let cuts = try directory.recoverOpenSegments()
            let wholeBlocks = ends.filter { $0 <= length }.count
            let kept = try StoreReader(directory: directory).records(StoreQuery())
            #expect(kept.count == wholeBlocks * 50, "cut at \(length)")
            // Exactly the first records, none missing in between.
            let values = kept.compactMap { if case .record(.metric(let m)) = $0 { m.value } else { nil } }
            #expect(values == (0..<(wholeBlocks * 50)).map { Double($0) * 0.5 }, "cut at \(length)")
            if ends.contains(length) {
                #expect(cuts.isEmpty, "cut at a block boundary \(length) needs no repair")
            } else {
                #expect(cuts.count == 1 && cuts[0].cutBytes == length - (ends.last { $0 <= length } ?? 16), "cut at \(length)")
            }
            let sealed = try directory.segments()
            #expect(sealed.allSatisfy { $0.sealed })
        }
    }

    @Test("random bit flips in a sealed segment are reported by verify and never silently dropped")
    func bitFlips() throws {
        let (directory, segment, _) = try StoreTestSupport.openSegment(blocks: 3, perBlock: 40)
        _ = try directory.recoverOpenSegments()
        let sealed = try #require(try directory.segments().first)
        #expect(sealed.sealed && sealed.id == segment.id)
        let original = try FileIO.readFile(sealed.path)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            var damaged = original
            let i = Int.random(in: SegmentFile.headerBytes..<original.count, using: &random)
            damaged[i] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            _ = TestFiles.write(sealed.path, damaged)
            let scan = try sealed.scan(verify: true)
            #expect(scan.damage != nil, "flip at byte \(i) not reported")
            // Reading the damaged block fails loudly rather than returning wrong data.
            #expect(throws: StoreError.self) { try StoreReader(directory: directory).records(StoreQuery()) }
        }
        _ = TestFiles.write(sealed.path, original)
        #expect(try sealed.scan(verify: true).damage == nil)
    }

    @Test("repair moves a damaged sealed segment to quarantine, where it stays")
    func quarantine() throws {
        let (directory, _, _) = try StoreTestSupport.openSegment(blocks: 2, perBlock: 10)
        _ = try directory.recoverOpenSegments()
        let sealed = try #require(try directory.segments().first)
        var bytes = try FileIO.readFile(sealed.path)
        bytes[bytes.count - 3] ^= 0xFF
        _ = TestFiles.write(sealed.path, bytes)
        let moved = try directory.quarantine(sealed)
        #expect(try directory.segments().isEmpty)
        #expect(FileIO.size(path: moved) == bytes.count)
    }
}
