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
    /// Only windows (`window`, `cache_window`, `visits_window`) of this length. Block summaries
    /// do not carry lengths, so this narrows records, not blocks.
    public var windowLength: WindowDuration?

    public init(kinds: Set<StoredRecord.Kind>? = nil, tenantID: String? = nil, metric: String? = nil, from: Timestamp? = nil, to: Timestamp? = nil,
                windowLength: WindowDuration? = nil) {
        self.kinds = kinds
        self.tenantID = tenantID
        self.metric = metric
        self.from = from
        self.to = to
        self.windowLength = windowLength
    }

    static let windowKinds: Set<StoredRecord.Kind> = [.window, .cacheWindow, .visitsWindow]

    /// Whether the query wants `r`.
    package func matches(_ r: StoredRecord) -> Bool {
        if let kinds, !kinds.contains(r.kind) { return false }
        if let tenantID, r.tenantID != tenantID { return false }
        if let metric, !r.matches(metric: metric) { return false }
        if let windowLength, r.windowLength != windowLength { return false }
        let t = r.timestamp
        if let from, t < from { return false }
        if let to, t >= to { return false }
        return true
    }

    /// Whether a block may hold a match, from its header and summary alone.
    package func mayMatch(_ block: SegmentFile.Block) -> Bool {
        earliestMatch(in: block) != nil
    }

    /// The earliest time a match in `block` can have, from its header and summary alone (the
    /// smallest minimum time of the summary entries the query wants); `nil` when the block
    /// cannot hold a match and need not be read.
    func earliestMatch(in block: SegmentFile.Block) -> Int64? {
        if let from, block.maxTime < from.microseconds { return nil }
        if let to, block.minTime >= to.microseconds { return nil }
        if let metric, !block.summary.mayContain(name: metric) { return nil }
        var earliest: Int64?
        for e in block.summary.entries {
            if let kinds, !kinds.contains(e.kind) { continue }
            if windowLength != nil, !Self.windowKinds.contains(e.kind) { continue }
            if let tenantID, e.tenantID != tenantID { continue }
            if let from, e.maxTime < from.microseconds { continue }
            if let to, e.minTime >= to.microseconds { continue }
            earliest = min(earliest ?? e.minTime, e.minTime)
        }
        return earliest
    }

    /// Whether a decoded group (one series of one kind) may hold a match: lets a read build
    /// records only for the groups it wants. Performance groups hold three series, so a
    /// `metric` query is checked record by record there.
    func mayMatch(_ group: BlockCodec.GroupKey) -> Bool {
        if let kinds, !kinds.contains(group.kind) { return false }
        if let tenantID, group.tenant != tenantID { return false }
        if let metric, group.kind != .performance, group.name != metric { return false }
        if let windowLength, !Self.windowKinds.contains(group.kind) || group.length != windowLength.microseconds { return false }
        return true
    }
}

extension StoredRecord {
    /// The length of a window record; `nil` for raw records and anomalies.
    public var windowLength: WindowDuration? {
        switch self {
        case .output(.window(let w)): w.span.length
        case .output(.cacheWindow(let w)): w.span.length
        case .output(.visitsWindow(let w)): w.span.length
        default: nil
        }
    }
}
