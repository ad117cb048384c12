import SluiceModel

/// Reads stored records back: sealed segments and the whole blocks of the one being written.
///
/// A read streams: it scans every segment's block headers and summaries, skips the blocks
/// they rule out, and merges the rest in time order, decoding a block only when the merge
/// reaches its earliest record and dropping it once its records are out. What a read holds is
/// the blocks whose time ranges overlap, plus what the caller keeps.
public struct StoreReader: Sendable {
    public let directory: DataDirectory
    /// Sealed segments a read keeps open from its scan on; those past it are opened again
    /// when the merge reaches them (see `OpenSegment`).
    var heldSegmentLimit = 64

    public init(directory: DataDirectory) { self.directory = directory }

    /// What a read did: how much of the store it looked at and how much it decoded.
    public struct ReadStatistics: Sendable, Hashable {
        /// Segments scanned.
        public var segments = 0
        /// Blocks in those segments.
        public var blocks = 0
        /// Blocks ruled out by their header's time range or their summary, never read.
        public var skippedBlocks = 0
        /// Blocks read and decoded.
        public var decodedBlocks = 0
        /// The most decoded blocks held at once: what bounds a read's memory.
        public var peakDecodedBlocks = 0
        /// The most segment files open at once.
        public var peakOpenSegments = 0
        /// Records handed to the caller.
        public var records = 0

        public init() {}
    }

    /// Calls `body` with each matching record in timestamp order; ties keep the order they
    /// were stored in (segment, then block, then place in the block). Blocks whose summary or
    /// time range rules them out are not read, and the others are decoded one at a time as
    /// the merge reaches them, so memory follows the answer, not the store.
    ///
    /// A read sees the files as they were when it began: the segment being written up to its
    /// last whole block then, even if the writer seals it meanwhile. On a read over more than
    /// 64 sealed segments, one that retention or compaction rewrites before the merge reaches it fails the
    /// read (run it again), and one it deletes is skipped. A damaged sealed segment throws
    /// before `body` is called; a block whose payload turns out damaged throws when the merge
    /// reaches it, after the records before it. It blocks on file reads and zstd: call it
    /// where blocking is allowed (`BlockingWork`).
    public func forEach(_ query: StoreQuery, _ body: (StoredRecord) throws(StoreError) -> Void) throws(StoreError) {
        var statistics = ReadStatistics()
        try forEach(query, statistics: &statistics, body)
    }

    /// `forEach(_:_:)`, counting what the read did into `statistics`.
    public func forEach(_ query: StoreQuery, statistics: inout ReadStatistics, _ body: (StoredRecord) throws(StoreError) -> Void) throws(StoreError) {
        var plan = try self.plan(query, statistics: &statistics)
        var merge = BlockMerge(blocks: plan.blocks)
        plan.blocks = []
        defer {
            statistics.decodedBlocks += merge.decodedBlocks
            statistics.peakDecodedBlocks = max(statistics.peakDecodedBlocks, merge.peakHeldBlocks)
            statistics.peakOpenSegments = max(statistics.peakOpenSegments, plan.files.peak)
        }
        while true {
            switch merge.next() {
            case .decode(let block):
                guard let segment = plan.segments[block.segment] else { preconditionFailure("a planned block's segment was closed before it was read") }
                merge.decoded(try read(block, from: segment, query))
                segment.unread -= 1
                // Its last wanted block is decoded: close the file.
                if segment.unread == 0 {
                    segment.close()
                    plan.segments[block.segment] = nil
                }
            case .emit(let record):
                statistics.records += 1
                try body(record)
            case .finished:
                return
            }
        }
    }

    /// Matching records in timestamp order (ties keep the order they were stored in): what
    /// `forEach` visits, gathered.
    public func records(_ query: StoreQuery) throws(StoreError) -> [StoredRecord] {
        var out: [StoredRecord] = []
        try forEach(query) { out.append($0) }
        return out
    }

    /// `forEach`, with each window stored in parts (split by a restart) answered as one record
    /// (see `WindowSummary.combining`), where its first part was: what every answer to a person
    /// uses. A window's parts share its start, so only the records of one timestamp are held.
    public func forEachCombined(_ query: StoreQuery, _ body: (StoredRecord) throws(StoreError) -> Void) throws(StoreError) {
        var sameTime: [StoredRecord] = []
        try forEach(query) { (r: StoredRecord) throws(StoreError) in
            if let first = sameTime.first, first.timestamp != r.timestamp {
                for c in Self.combiningWindowParts(sameTime) { try body(c) }
                sameTime.removeAll(keepingCapacity: true)
            }
            sameTime.append(r)
        }
        for c in Self.combiningWindowParts(sameTime) { try body(c) }
    }

    /// What `forEachCombined` visits, gathered.
    public func combinedRecords(_ query: StoreQuery) throws(StoreError) -> [StoredRecord] {
        var out: [StoredRecord] = []
        try forEachCombined(query) { out.append($0) }
        return out
    }

    /// `records` with the parts of each window combined into one, where its first part was.
    static func combiningWindowParts(_ records: [StoredRecord]) -> [StoredRecord] {
        var outputs: [OutputRecord] = []
        for case .output(let o) in records where o.windowIdentity != nil { outputs.append(o) }
        let combined = OutputRecord.combiningWindowParts(outputs)
        guard combined.count < outputs.count else { return records }
        var out: [StoredRecord] = []
        out.reserveCapacity(records.count)
        var next = combined.makeIterator()
        var seen: Set<WindowIdentity> = []
        for r in records {
            if case .output(let o) = r, let id = o.windowIdentity {
                if seen.insert(id).inserted, let c = next.next() { out.append(.output(c)) }
            } else {
                out.append(r)
            }
        }
        return out
    }
}
