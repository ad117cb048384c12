import Testing
import SluiceModel
@testable import SluiceStore

/// The merge's decisions, step by step, with blocks that are only names.
@Suite("Block merge")
struct BlockMergeTests {
    /// A record at `time` µs since the epoch.
    static func metric(_ time: Int64, _ name: String) -> StoredRecord {
        .record(.metric(MetricRecord(timestamp: Timestamp(microseconds: time), name: name, value: 0)))
    }

    /// Runs the merge to the end; `decode` gives each block's records. Returns each step as
    /// `decode X` or `emit <name>@<time>`.
    static func steps(_ merge: inout BlockMerge<String>, _ decode: (String) -> [StoredRecord]) -> [String] {
        var out: [String] = []
        while true {
            switch merge.next() {
            case .decode(let block):
                out.append("decode \(block)")
                merge.decoded(decode(block))
            case .emit(let r):
                out.append("emit \(r.name ?? "")@\(r.timestamp.microseconds)")
            case .finished:
                return out
            }
        }
    }

    @Test("a block is decoded only when the merge reaches its earliest time; ties go to the block stored first")
    func decodesWhenReached() {
        let records = [
            "A": [Self.metric(20, "a2"), Self.metric(10, "a1")],
            "B": [Self.metric(20, "b1"), Self.metric(30, "b2")],
            "C": [Self.metric(40, "c1")],
        ]
        // Stored order C, A, B: C is decoded last all the same, once its time comes.
        var merge = BlockMerge(blocks: [(40, "C"), (10, "A"), (20, "B")])
        #expect(Self.steps(&merge) { records[$0]! } == [
            "decode A", "emit a1@10", "decode B", "emit a2@20", "emit b1@20", "emit b2@30", "decode C", "emit c1@40",
        ])
        #expect(merge.decodedBlocks == 3)
        #expect(merge.peakHeldBlocks == 2)
        #expect(merge.heldBlocks == 0)
    }

    @Test("a tie between blocks goes to the one stored first, even when it is decoded second")
    func tiesFollowStoredOrder() {
        let records = ["early": [Self.metric(5, "e"), Self.metric(9, "x")], "late": [Self.metric(7, "l"), Self.metric(9, "y")]]
        // "late" was stored first, so its record at 9 comes before "early"'s.
        var merge = BlockMerge(blocks: [(7, "late"), (5, "early")])
        #expect(Self.steps(&merge) { records[$0]! } == ["decode early", "emit e@5", "decode late", "emit l@7", "emit y@9", "emit x@9"])
    }

    @Test("a decoded block without a wanted record is let go at once")
    func emptyBlocks() {
        var merge = BlockMerge(blocks: [(1, "none"), (2, "one")])
        #expect(Self.steps(&merge) { $0 == "one" ? [Self.metric(2, "o")] : [] } == ["decode none", "decode one", "emit o@2"])
        #expect(merge.decodedBlocks == 2)
        #expect(merge.peakHeldBlocks == 1)
    }
}
