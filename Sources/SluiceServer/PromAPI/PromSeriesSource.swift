import SluiceModel
import SluiceStore

/// Sluice's records as Prometheus series (design §9), read from the store and the live state:
///
/// - a raw `metric` record is a sample of `name{labels…, tenant_id}` at its timestamp;
/// - a window is a sample of `name:stat{labels…, tenant_id, window}` at the window's end,
///   for each statistic; a cache window gives `cache_hits`, `cache_misses`,
///   `cache_hit_ratio`, `cache_size_kb` (label `cache`), a visits window `visits` and
///   `unique_visitors`;
/// - `quantile_over_time` reads windows with their sketches.
///
/// A tenant token sees only series with its own `tenant_id`. Each selector loads only its
/// time range, and only its name when the selector fixes one.
struct PromSeriesSource: Sendable {
    typealias Micros = PromQL.Micros
    let state: ServerState

    /// The statistics every window series has, as the suffix of `name:stat`.
    static let statistics = ["count", "sum", "min", "max", "mean", "p50", "p90", "p95", "p99"]
    static let cacheSeries = ["cache_hits", "cache_misses", "cache_hit_ratio", "cache_size_kb"]
    static let visitsSeries = ["visits", "unique_visitors"]

    /// A time range `(after, through]`; `nil` ends are open.
    struct Interval: Sendable, Hashable {
        var after: Micros?
        var through: Micros?

        func contains(_ t: Micros) -> Bool {
            (after.map { t > $0 } ?? true) && (through.map { t <= $0 } ?? true)
        }
    }

    /// What `selections` read for evaluations from `start` through `end`; `tenant` is the one
    /// tenant a tenant token may read, `nil` for admin.
    func load(_ selections: [PromQL.Selection], from start: Micros, through end: Micros, tenant: String?) async throws -> PromQL.SeriesSet {
        var samples: [Labels: [PromQL.Sample]] = [:]
        var sketches: [Labels: [PromQL.SketchWindow]] = [:]
        for selection in Set(selections) {
            let offset = selection.selector.offset
            let interval = Interval(after: start - offset - selection.range, through: end - offset)
            let filter = try PromQL.LabelFilter(selection.selector.matchers)
            if selection.sketches {
                for (labels, window) in try await sketchWindows(selection.selector, interval, tenant: tenant) where filter.matches(labels) {
                    sketches[labels, default: []].append(window)
                }
            } else {
                for (labels, sample) in try await self.samples(selection.selector, interval, tenant: tenant) where filter.matches(labels) {
                    samples[labels, default: []].append(sample)
                }
            }
        }
        var set = PromQL.SeriesSet()
        set.series = samples.map { PromQL.Series(labels: $0.key, samples: Self.ordered($0.value)) }
        set.sketchSeries = sketches.map { labels, windows in
            var seen: Set<Micros> = []
            let unique = windows.sorted { $0.end < $1.end }.filter { seen.insert($0.start).inserted }
            return PromQL.SketchSeries(labels: labels, windows: unique)
        }
        return set
    }

    /// The label sets of the series matching any of `selectors` with samples in `interval`
    /// (all series when `selectors` is empty).
    func labelSets(matching selectors: [PromQL.Selector], in interval: Interval, tenant: String?) async throws -> Set<Labels> {
        var out: Set<Labels> = []
        for selector in selectors.isEmpty ? [PromQL.Selector(matchers: [])] : selectors {
            let filter = try PromQL.LabelFilter(selector.matchers)
            for (labels, _) in try await samples(selector, interval, tenant: tenant) where filter.matches(labels) { out.insert(labels) }
        }
        return out
    }

    /// Samples in time order, one per time (a series loaded by two selectors comes twice).
    static func ordered(_ samples: [PromQL.Sample]) -> [PromQL.Sample] {
        var out: [PromQL.Sample] = []
        out.reserveCapacity(samples.count)
        for s in samples.sorted(by: { $0.time < $1.time }) where out.last?.time != s.time { out.append(s) }
        return out
    }

    // MARK: Loading

    /// The longest configured window: a window ending in a range starts at most this long
    /// before it.
    private var longestWindow: Micros { state.windowLengths.map(\.microseconds).max() ?? 60_000_000 }

    /// The tenant the store is asked for: the token's, or the one the selector fixes. `nil`
    /// with `refused` when the selector asks for another tenant than the token's.
    private func storeTenant(_ selector: PromQL.Selector, tenant: String?) -> (tenant: String?, refused: Bool) {
        let asked = selector.exactTenant
        if let tenant { return (tenant, asked != nil && asked != tenant) }
        return (asked, false)
    }

    private func visible(_ tenantID: String?, tenant: String?) -> Bool { tenant == nil || tenantID == tenant }

    /// Samples of raw metrics and of window statistics in `interval`, with their labels.
    func samples(_ selector: PromQL.Selector, _ interval: Interval, tenant: String?) async throws -> [(Labels, PromQL.Sample)] {
        let (storeTenant, refused) = storeTenant(selector, tenant: tenant)
        if refused { return [] }
        let name = selector.exactName
        let from = interval.after.map { Timestamp(microseconds: $0) }
        let to = interval.through.map { Timestamp(microseconds: $0 + 1) }
        let windowsFrom = interval.after.map { Timestamp(microseconds: $0 - longestWindow) }
        var out: [(Labels, PromQL.Sample)] = []

        for case .record(.metric(let m)) in try await state.storedRecords(StoreQuery(kinds: [.metric], tenantID: storeTenant, metric: name, from: from, to: to))
        where visible(m.tenantID, tenant: tenant) && interval.contains(m.timestamp.microseconds) {
            out.append((Self.labels(m.labels, name: m.name, tenant: m.tenantID), PromQL.Sample(time: m.timestamp.microseconds, value: m.value)))
        }

        let base = name.flatMap(Self.windowBase)
        if name == nil || base != nil {
            let windows = try await WindowQuery(state: state).windows(.init(tenant: storeTenant, metric: base, from: windowsFrom, to: to))
            for w in windows where visible(w.series.tenantID, tenant: tenant) && interval.contains(w.span.end.microseconds) {
                for (stat, value) in Self.statisticValues(w) where base == nil || name == "\(w.series.name):\(stat)" {
                    let labels = Self.labels(w.series.labels, name: "\(w.series.name):\(stat)", tenant: w.series.tenantID, window: w.span.length)
                    out.append((labels, PromQL.Sample(time: w.span.end.microseconds, value: value)))
                }
            }
        }

        let filter = WindowQuery.Filter(tenant: storeTenant, from: windowsFrom, to: to)
        var others: [OutputRecord] = []
        if name == nil || Self.cacheSeries.contains(name!) {
            others += try await cacheWindows(filter).map { .cacheWindow($0) }
        }
        if name == nil || Self.visitsSeries.contains(name!) {
            others += try await WindowQuery(state: state).visits(filter).map { .visitsWindow($0) }
        }
        for record in others where visible(record.tenantID, tenant: tenant) {
            out += Self.samples(of: record).filter { interval.contains($0.1.time) && (name == nil || $0.0["__name__"] == name) }
        }
        return out
    }

    /// Windows of `selector`'s series (the name is the series', not a statistic's) with
    /// their sketches, for windows that start after `interval.after` and end by its end.
    func sketchWindows(_ selector: PromQL.Selector, _ interval: Interval, tenant: String?) async throws -> [(Labels, PromQL.SketchWindow)] {
        let (storeTenant, refused) = storeTenant(selector, tenant: tenant)
        if refused { return [] }
        let from = interval.after.map { Timestamp(microseconds: $0) }
        let to = interval.through.map { Timestamp(microseconds: $0) }
        var out: [(Labels, PromQL.SketchWindow)] = []
        for w in try await WindowQuery(state: state).windows(.init(tenant: storeTenant, metric: selector.exactName, from: from, to: to))
        where visible(w.series.tenantID, tenant: tenant) && interval.contains(w.span.end.microseconds) {
            let labels = Self.labels(w.series.labels, name: w.series.name, tenant: w.series.tenantID, window: w.span.length)
            out.append((labels, PromQL.SketchWindow(start: w.span.start.microseconds, end: w.span.end.microseconds, sketch: w.sketch)))
        }
        return out
    }
}
