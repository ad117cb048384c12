import Testing
import SluiceModel
@testable import SluicePipeline

/// Decodes that finish in any order go on in stream order, and each lane's intern table
/// passes from one block to the next of its lane.
@Suite("Decode order")
struct DecodeOrderTests {
    static func decoded(_ sequence: Int, intern: InternTable = InternTable()) -> DecodeOrder.Decoded {
        DecodeOrder.Decoded(sequence: sequence, batch: DecodedBatch(), stopped: nil, intern: intern)
    }

    @Test("blocks that finish out of order go on in the order they were read")
    func inOrder() {
        var order = DecodeOrder(width: 3)
        for expected in 0..<3 { #expect(order.launch().sequence == expected) }
        #expect(order.isFull)
        #expect(order.arrive(Self.decoded(2)).isEmpty, "block 2 waits for 0 and 1")
        #expect(order.arrive(Self.decoded(0)).map(\.sequence) == [0])
        #expect(!order.isFull)
        #expect(order.arrive(Self.decoded(1)).map(\.sequence) == [1, 2])
        #expect(order.isDrained)
    }

    @Test("a lane's next block gets the intern table its previous block handed back")
    func lanes() {
        var order = DecodeOrder(width: 2)
        var decoder = IngestDecoder(decoder: .init())
        Array(#"{"metric_name":"m","labels":{"k":"v"},"value":1}"#.utf8).withUnsafeBufferPointer { decoder.feed($0, now: Timestamp(microseconds: 0), source: nil) }
        decoder.finish(now: Timestamp(microseconds: 0), source: nil)
        #expect(decoder.intern.labelSetCount == 1)
        let (first, fresh) = order.launch()
        #expect(fresh.labelSetCount == 0)
        _ = order.launch()
        _ = order.arrive(Self.decoded(first, intern: decoder.intern))
        let (third, handed) = order.launch()
        #expect(third == 2)
        #expect(handed.labelSetCount == 1, "lane 0's table, as block 0 left it")
    }
}
