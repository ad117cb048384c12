import HeapModule
import SluiceModel

/// Merges the records of many blocks into one timestamp order, decoding a block only when the
/// merge reaches the earliest time it can hold a record at, and letting it go as soon as its
/// last record is out. What it holds at once is the blocks whose time ranges overlap the
/// merge's current time, never the whole answer.
///
/// Pure and synchronous: `next()` says what to do (decode a block, emit a record, or stop),
/// and whoever drives it reads the block and hands its records back with `decoded(_:)`.
/// Ties keep the order the blocks were given in, then the order of records within a block.
struct BlockMerge<Block> {
    /// What to do next.
    enum Step {
        /// Decode this block and pass its records (in stored order) to `decoded(_:)`.
        case decode(Block)
        case emit(StoredRecord)
        case finished
    }

    private struct Candidate {
        /// No record of the block is earlier than this.
        var earliest: Int64
        /// Its place in stored order: breaks ties between blocks.
        var sequence: Int
        var block: Block
    }

    /// A decoded block's records, sorted by time, and how far the merge has got in them.
    private struct Decoded {
        var records: [StoredRecord]
        var times: [Int64]
        var position = 0

        /// A free slot.
        static var none: Decoded { Decoded(records: [], times: []) }

        /// The time of the next record; `nil` once every record is out.
        var nextTime: Int64? { position < times.count ? times[position] : nil }

        mutating func take() -> StoredRecord {
            position += 1
            return records[position - 1]
        }
    }

    /// The next record of one decoded block.
    private struct Head: Comparable {
        var time: Int64
        var sequence: Int
        var slot: Int

        static func < (l: Head, r: Head) -> Bool { l.time != r.time ? l.time < r.time : l.sequence < r.sequence }
    }

    /// Blocks not yet decoded, by earliest time (then stored order); `nextCandidate` is the first.
    private let candidates: [Candidate]
    private var nextCandidate = 0
    private var heads = Heap<Head>()
    private var slots: [Decoded] = []
    private var freeSlots: [Int] = []
    /// The block `.decode` asked for, until `decoded(_:)` brings its records.
    private var decoding: Int?

    private(set) var decodedBlocks = 0
    /// Decoded blocks whose records are not all out yet.
    private(set) var heldBlocks = 0
    /// The most blocks held at once.
    private(set) var peakHeldBlocks = 0

    /// `blocks` in stored order, each with the earliest time a record of it can have.
    init(blocks: [(earliest: Int64, block: Block)]) {
        candidates = blocks.enumerated()
            .map { Candidate(earliest: $0.element.earliest, sequence: $0.offset, block: $0.element.block) }
            .sorted { $0.earliest != $1.earliest ? $0.earliest < $1.earliest : $0.sequence < $1.sequence }
    }

    mutating func next() -> Step {
        precondition(decoding == nil, "BlockMerge.next() called before the records of the block it asked to decode were handed back")
        // A block whose earliest time is not after the next record may hold records that come
        // first (or tie and were stored first): decode it before emitting anything more.
        if nextCandidate < candidates.count, heads.min.map({ candidates[nextCandidate].earliest <= $0.time }) ?? true {
            let candidate = candidates[nextCandidate]
            nextCandidate += 1
            decoding = candidate.sequence
            return .decode(candidate.block)
        }
        guard let head = heads.min else { return .finished }
        let record = slots[head.slot].take()
        if let time = slots[head.slot].nextTime {
            _ = heads.replaceMin(with: Head(time: time, sequence: head.sequence, slot: head.slot))
        } else {
            // The block's last record: let its records go now, not when the read ends.
            _ = heads.popMin()
            slots[head.slot] = .none
            freeSlots.append(head.slot)
            heldBlocks -= 1
        }
        return .emit(record)
    }

    /// The records of the block the last `.decode` named, in the order they were stored (only
    /// those the query wants; none is fine).
    mutating func decoded(_ records: [StoredRecord]) {
        guard let sequence = decoding else { preconditionFailure("BlockMerge.decoded(_:) called with no block being decoded") }
        decoding = nil
        decodedBlocks += 1
        guard !records.isEmpty else { return }
        let block = Self.sortedByTime(records)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = block
        } else {
            slot = slots.count
            slots.append(block)
        }
        heads.insert(Head(time: block.times[0], sequence: sequence, slot: slot))
        heldBlocks += 1
        peakHeldBlocks = max(peakHeldBlocks, heldBlocks)
    }

    /// A block's records in a stable time order: a block keeps each series' records together,
    /// so its records are rarely in time order across series.
    private static func sortedByTime(_ records: [StoredRecord]) -> Decoded {
        let times = records.map(\.timestamp.microseconds)
        var sorted = true
        for i in times.indices.dropFirst() where times[i] < times[i - 1] {
            sorted = false
            break
        }
        if sorted { return Decoded(records: records, times: times) }
        let order = times.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        return Decoded(records: order.map { records[$0] }, times: order.map { times[$0] })
    }
}
