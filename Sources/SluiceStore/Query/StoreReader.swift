import SluiceModel

/// What a query asks for. Every field narrows; `nil` means any.
public struct StoreQuery: Sendable, Hashable {
    public var kinds: Set<StoredRecord.Kind>?
    public var tenantID: String?
    public var metric: String?
    /// Inclusive.
    public var from: Timestamp?
    /// Exclusive.
    public var to: Timestamp?

    public init(kinds: Set<StoredRecord.Kind>? = nil, tenantID: String? = nil, metric: String? = nil, from: Timestamp? = nil, to: Timestamp? = nil) {
        self.kinds = kinds
        self.tenantID = tenantID
        self.metric = metric
        self.from = from
        self.to = to
    }

    func matches(_ r: StoredRecord) -> Bool {
        if let kinds, !kinds.contains(r.kind) { return false }
        if let tenantID, r.tenantID != tenantID { return false }
        if let metric, !r.matches(metric: metric) { return false }
        let t = r.timestamp
        if let from, t < from { return false }
        if let to, t >= to { return false }
        return true
    }

    /// Whether a block may hold a match, from its summary alone.
    func mayMatch(_ block: SegmentFile.Block) -> Bool {
        if let metric, !block.summary.mayContain(name: metric) { return false }
        return block.summary.entries.contains { e in
            if let kinds, !kinds.contains(e.kind) { return false }
            if let tenantID, e.tenantID != tenantID { return false }
            if let from, e.maxTime < from.microseconds { return false }
            if let to, e.minTime >= to.microseconds { return false }
            return true
        }
    }
}

/// Reads stored records back: sealed segments and the whole blocks of the one being written.
public struct StoreReader: Sendable {
    public let directory: DataDirectory

    public init(directory: DataDirectory) { self.directory = directory }

    /// Matching records in timestamp order (ties keep the order they were stored in). Blocks
    /// whose summary rules them out are not read.
    public func records(_ query: StoreQuery) throws(StoreError) -> [StoredRecord] {
        var out: [StoredRecord] = []
        var skipped = 0
        for segment in try directory.segments() {
            let scan: SegmentFile.Scan
            do {
                scan = try segment.scan(verify: false)
            } catch where !segment.sealed {
                continue  // sealed or removed while we looked: its data is in the sealed file
            }
            if segment.sealed, let damage = scan.damage {
                throw .corrupt("\(segment.path) is damaged at offset \(damage.offset) (\(damage.reason)); run `sluice verify --data-dir \(directory.path) --repair`")
            }
            let wanted = scan.blocks.filter { query.mayMatch($0) }
            skipped += scan.blocks.count - wanted.count
            for r in try segment.records(blocks: wanted) where query.matches(r) { out.append(r) }
        }
        return Self.sortedByTime(out)
    }

    /// Like `records`, with each window stored in parts (split by a restart) answered as one
    /// record (see `WindowSummary.combining`): what every answer to a person uses.
    public func combinedRecords(_ query: StoreQuery) throws(StoreError) -> [StoredRecord] {
        let records = try self.records(query)
        var outputs: [OutputRecord] = []
        for case .output(let o) in records where o.windowIdentity != nil { outputs.append(o) }
        let combined = OutputRecord.combiningWindowParts(outputs)
        guard combined.count < outputs.count else { return records }
        // Each combined window takes the place of its first part; the other parts go.
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

    /// A stable sort by timestamp.
    static func sortedByTime(_ records: [StoredRecord]) -> [StoredRecord] {
        records.enumerated().sorted { l, r in
            l.element.timestamp != r.element.timestamp ? l.element.timestamp < r.element.timestamp : l.offset < r.offset
        }.map(\.element)
    }
}
