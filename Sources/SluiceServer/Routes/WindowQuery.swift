import SluiceModel
import SluicePipeline
import SluiceStore

/// Where the query routes find windows: the store, the recent closed windows not yet flushed
/// to it, and the windows still open (marked partial). A window stored in parts (split by a
/// restart) is answered as one; one seen both in the store and in memory counts once.
struct WindowQuery: Sendable {
    let state: ServerState

    /// What a query narrows windows by; `nil` means any.
    struct Filter: Sendable {
        var tenant: String?
        var metric: String?
        var length: WindowDuration?
        var from: Timestamp?
        var to: Timestamp?

        func wants(span: WindowSpan, tenant: String?) -> Bool {
            if let wanted = self.tenant, tenant != wanted { return false }
            if let from, span.start < from { return false }
            if let to, span.start >= to { return false }
            return length == nil || span.length == length
        }

        func wants(_ w: WindowSummary) -> Bool {
            if let metric, w.series.name != metric { return false }
            return wants(span: w.span, tenant: w.series.tenantID)
        }
    }

    /// Windows rolled up to `step`: from the coarsest tiers that divide it as far as they
    /// reach, then from the pipeline's windows of the longest length that divides it (one
    /// length only: windows of two lengths hold the same samples twice).
    func windows(_ filter: Filter, step: WindowDuration) async throws -> [WindowSummary] {
        var found: [WindowSummary] = []
        for piece in try await pieces(filter, step: step) {
            if let tier = piece.tier {
                // A tier's windows are whole steps of their own: rolled up as they stream.
                let query = StoreQuery(kinds: [.window], tenantID: piece.filter.tenant, metric: piece.filter.metric,
                                       from: piece.filter.from, to: piece.filter.to, windowLength: piece.filter.length)
                found += try await state.rolledUp(query, in: tier, step: step).windows()
            } else {
                found += try await windows(piece.filter)
            }
        }
        return try Self.rolledUp(found, step: step)
    }

    /// Visits windows rolled up to `step`, from the tiers and the base as `windows` does.
    func visits(_ filter: Filter, step: WindowDuration) async throws -> [VisitsWindowSummary] {
        var found: [VisitsWindowSummary] = []
        for piece in try await pieces(filter, step: step) {
            if let tier = piece.tier {
                let query = StoreQuery(kinds: [.visitsWindow], tenantID: piece.filter.tenant, from: piece.filter.from, to: piece.filter.to,
                                       windowLength: piece.filter.length)
                found += try await state.rolledUp(query, in: tier, step: step).visits()
            } else {
                found += try await visits(piece.filter)
            }
        }
        return try Self.rolledUp(found, step: step)
    }

    /// Where a query at `step` reads: tier directories (with their own length), then the base.
    /// The answer is the whole steps that start in `[from, to)`, so `from` and `to` move up to
    /// step boundaries: a tier's window and the base's windows then cover the same time.
    private func pieces(_ asked: Filter, step: WindowDuration) async throws -> [(tier: DataDirectory?, filter: Filter)] {
        let filter = Filter(tenant: asked.tenant, metric: asked.metric, length: asked.length,
                            from: asked.from.map { Self.ceiling($0, step) }, to: asked.to.map { Self.ceiling($0, step) })
        if let length = filter.length {
            // One length asked for: the pipeline's windows of it.
            if let problem = WindowRollup.check(step: step, window: length) { throw APIError.badRequest("\(problem)") }
            return [(nil, filter)]
        }
        guard let tiers = state.store?.tiers else {
            guard let length = state.windowLengths.last(where: { WindowRollup.check(step: step, window: $0) == nil }) else {
                throw APIError.badRequest("\(WindowRollup.StepProblem(step: step, window: state.windowLengths[0])); ask for a whole number of windows")
            }
            var base = filter
            base.length = length
            return [(nil, base)]
        }
        let plan = try await BlockingWork.run { () throws(StoreError) in try tiers.plan(step: step, from: filter.from, to: filter.to) }
        guard !plan.isEmpty else {
            throw APIError.badRequest("\(WindowRollup.StepProblem(step: step, window: state.windowLengths[0])); ask for a whole number of windows")
        }
        return plan.map { piece in
            var f = filter
            f.length = piece.source.length
            f.from = piece.from
            f.to = piece.to
            return (piece.source.tier == nil ? nil : piece.source.directory, f)
        }
    }

    /// The pipeline's windows that `filter` wants: this node's, or in a cluster, those of
    /// every partition's owner.
    func windows(_ filter: Filter) async throws -> [WindowSummary] {
        if let cluster = state.cluster { return try await cluster.windows(filter) }
        return try await state.localWindows.windows(filter)
    }

    func visits(_ filter: Filter) async throws -> [VisitsWindowSummary] {
        if let cluster = state.cluster { return try await cluster.visits(filter) }
        return try await state.localWindows.visits(filter)
    }

    /// `windows` rolled up to `step` (when given), after checking that every window fits it.
    static func rolledUp(_ windows: [WindowSummary], step: WindowDuration?) throws -> [WindowSummary] {
        guard let step else { return windows }
        try check(step: step, lengths: Set(windows.map(\.span.length)))
        return WindowRollup.windows(windows, step: step)
    }

    static func rolledUp(_ visits: [VisitsWindowSummary], step: WindowDuration?) throws -> [VisitsWindowSummary] {
        guard let step else { return visits }
        try check(step: step, lengths: Set(visits.map(\.span.length)))
        return WindowRollup.visits(visits, step: step)
    }

    /// The first step boundary at or after `time` (epoch-aligned, as windows are).
    static func ceiling(_ time: Timestamp, _ step: WindowDuration) -> Timestamp {
        let start = WindowSpan(length: step, containing: time).start
        return start == time ? time : start + step
    }

    private static func check(step: WindowDuration, lengths: Set<WindowDuration>) throws {
        for length in lengths.sorted() {
            if let problem = WindowRollup.check(step: step, window: length) {
                throw APIError.badRequest("\(problem); ask for a whole number of windows")
            }
        }
    }
}

/// The windows one pipeline holds: its store, the recent closed windows not yet flushed to it,
/// and the windows still open (marked partial). A window stored in parts (split by a restart)
/// is answered as one; one seen both in the store and in memory counts once.
struct WindowSource: Sendable {
    /// `nil` without a store.
    let reader: StoreReader?
    let dashboard: DashboardSink
    let pipeline: Pipeline

    func windows(_ filter: WindowQuery.Filter) async throws -> [WindowSummary] {
        struct Key: Hashable { var series: SeriesKey; var span: WindowSpan }
        var parts: [Key: [WindowSummary]] = [:]
        let query = StoreQuery(kinds: [.window], tenantID: filter.tenant, metric: filter.metric, from: filter.from, to: filter.to)
        for case .output(.window(let w)) in try await storedRecords(query) where filter.wants(w) {
            parts[Key(series: w.series, span: w.span), default: []].append(w)
        }
        // Closed in this run: in the store already, or about to be.
        for w in dashboard.snapshot(tenant: filter.tenant).windows.values.joined() where filter.wants(w) {
            let key = Key(series: w.series, span: w.span)
            if parts[key]?.contains(where: { $0.sameSamples(as: w) }) != true { parts[key, default: []].append(w) }
        }
        // Open: never stored yet, though an earlier part of the same window may be.
        for case .window(let w) in await openWindows() where filter.wants(w) {
            parts[Key(series: w.series, span: w.span), default: []].append(w)
        }
        return parts.values.map { WindowSummary.combining($0) }.sorted { ($0.span, $0.series) < ($1.span, $1.series) }
    }

    func visits(_ filter: WindowQuery.Filter) async throws -> [VisitsWindowSummary] {
        struct Key: Hashable { var site: String?; var span: WindowSpan }
        var parts: [Key: [VisitsWindowSummary]] = [:]
        let query = StoreQuery(kinds: [.visitsWindow], tenantID: filter.tenant, from: filter.from, to: filter.to)
        for case .output(.visitsWindow(let v)) in try await storedRecords(query) where filter.wants(span: v.span, tenant: v.tenantID) {
            parts[Key(site: v.tenantID, span: v.span), default: []].append(v)
        }
        for v in dashboard.snapshot(tenant: filter.tenant).visits.values.joined() where filter.wants(span: v.span, tenant: v.tenantID) {
            let key = Key(site: v.tenantID, span: v.span)
            if parts[key]?.contains(where: { $0.visits == v.visits && $0.uniqueVisitors == v.uniqueVisitors }) != true { parts[key, default: []].append(v) }
        }
        for case .visitsWindow(let v) in await openWindows() where filter.wants(span: v.span, tenant: v.tenantID) {
            parts[Key(site: v.tenantID, span: v.span), default: []].append(v)
        }
        return parts.values.map { VisitsWindowSummary.combining($0) }.sorted { ($0.span, $0.tenantID ?? "") < ($1.span, $1.tenantID ?? "") }
    }

    private func openWindows() async -> [OutputRecord] {
        await pipeline.live.openSummaries(nudge: { _ = pipeline.input.trySend(RecordBatch(records: [])) })
    }

    private func storedRecords(_ query: StoreQuery) async throws(StoreError) -> [StoredRecord] {
        guard let reader else { return [] }
        return try await BlockingWork.run { () throws(StoreError) in try reader.records(query) }
    }
}
