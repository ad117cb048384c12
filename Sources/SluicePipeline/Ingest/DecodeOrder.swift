import SluiceModel

/// The bookkeeping of a stream decoded on several tasks (`IngestEdge.stream`), pure: which
/// block is next to go on, the decoded blocks that arrived ahead of it, and the intern table
/// each decode lane hands from one block to the next.
///
/// Block k is decoded with lane k % `width`'s table. Block k − `width` hands that table back
/// when it goes on, and block k is launched only once at most `width` − 1 blocks are out, so
/// no table is ever in two decodes at once.
struct DecodeOrder {
    /// One block's decode, as its task returns it.
    struct Decoded: Sendable {
        var sequence: Int
        var batch: DecodedBatch
        /// The first bad line, when `--strict` stopped the block there.
        var stopped: LineError?
        var intern: InternTable
    }

    let width: Int
    private var launched = 0
    private var next = 0
    private var arrived: [Int: Decoded] = [:]
    private var lanes: [InternTable?]

    init(width: Int) {
        self.width = Swift.max(1, width)
        lanes = Array(repeating: nil, count: self.width)
    }

    /// `width` blocks are out: wait for one before launching another.
    var isFull: Bool { launched - next >= width }
    /// Every block launched has gone on.
    var isDrained: Bool { next == launched }

    /// Numbers the next block and hands it its lane's table.
    mutating func launch() -> (sequence: Int, intern: InternTable) {
        defer { launched += 1 }
        return (launched, lanes[launched % width].take() ?? InternTable())
    }

    /// Takes a finished decode; returns, in stream order, every block that can now go on.
    mutating func arrive(_ decoded: Decoded) -> [Decoded] {
        arrived[decoded.sequence] = decoded
        var ready: [Decoded] = []
        while let block = arrived.removeValue(forKey: next) {
            lanes[next % width] = block.intern
            next += 1
            ready.append(block)
        }
        return ready
    }
}
