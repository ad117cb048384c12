import DequeModule
import Synchronization
import SluiceModel
import SluicePipeline

/// The dashboard's sink: keeps, per widget, the recent history it draws (bounded: the last
/// `windowsPerSeries` windows of each series, the last `anomalies` anomalies), and counts
/// updates so the page knows when to redraw.
///
/// Only the newest `sketchedWindows` windows of a series keep their sketches: queries merge
/// those until the store has them, and older ones are answered from the store. Keeping every
/// sketch would cost a few KB per window per series.
public final class DashboardSink: Sink {
    /// Windows per series that keep their sketch (the store flushes within a second).
    static let sketchedWindows = 2

    public struct Snapshot: Sendable {
        public var windows: [SeriesKey: [WindowSummary]] = [:]
        /// Performance series with every route merged (sketches merged, so the percentiles
        /// are those of all the routes' samples), keyed by the series without its route.
        public var allRoutes: [SeriesKey: [WindowSummary]] = [:]
        public var caches: [SeriesKey: [CacheWindowSummary]] = [:]
        public var visits: [String: [VisitsWindowSummary]] = [:]
        public var anomalies: [Anomaly] = []
        public var alerts: [BudgetAlert] = []
        /// `budget_forecast` records raised, oldest first (the meter's `forecasts` has the
        /// current ones).
        public var forecasts: [BudgetForecast] = []
        public var version = 0

        /// The end of the newest window held: the dashboard's "now".
        public var newestEnd: Int64? {
            let ends = windows.values.compactMap { $0.last?.span.end.microseconds } + caches.values.compactMap { $0.last?.span.end.microseconds }
                + visits.values.compactMap { $0.last?.span.end.microseconds }
            return ends.max()
        }
    }

    struct State {
        var windows: [SeriesKey: Deque<WindowSummary>] = [:]
        var allRoutes: [SeriesKey: Deque<WindowSummary>] = [:]
        var caches: [SeriesKey: Deque<CacheWindowSummary>] = [:]
        var visits: [String: Deque<VisitsWindowSummary>] = [:]
        var anomalies: Deque<Anomaly> = []
        var alerts: Deque<BudgetAlert> = []
        var forecasts: Deque<BudgetForecast> = []
        var version = 0
    }

    public let windowsPerSeries: Int
    public let maximumAnomalies: Int
    private let state = Mutex(State())

    public init(windowsPerSeries: Int = 60, maximumAnomalies: Int = 100) {
        self.windowsPerSeries = windowsPerSeries
        self.maximumAnomalies = maximumAnomalies
    }

    public func write(_ records: [OutputRecord]) async throws {
        let limit = windowsPerSeries
        state.withLock { s in
            for record in records {
                switch record {
                case .window(let w):
                    Self.append(w, to: &s.windows[w.series, default: []], limit: limit)
                    if w.series.labels["route"] != nil, Self.performanceSeries.contains(w.series.name) {
                        Self.merge(w, into: &s.allRoutes[w.series.withoutRoute, default: []], limit: limit)
                    }
                case .cacheWindow(let c):
                    let key = SeriesKey(tenantID: c.tenantID, name: c.cache ?? "", labels: c.labels)
                    s.caches[key, default: []].append(c)
                    if s.caches[key]!.count > limit { s.caches[key]!.removeFirst() }
                case .visitsWindow(let v):
                    let site = v.tenantID ?? ""
                    s.visits[site, default: []].append(v)
                    if s.visits[site]!.count > limit { s.visits[site]!.removeFirst() }
                    let older = s.visits[site]!.count - Self.sketchedWindows - 1
                    if older >= 0 { s.visits[site]![older].visitors = nil }
                case .anomaly(let a):
                    s.anomalies.append(a)
                    if s.anomalies.count > maximumAnomalies { s.anomalies.removeFirst() }
                case .budgetAlert(let b):
                    s.alerts.append(b)
                    if s.alerts.count > maximumAnomalies { s.alerts.removeFirst() }
                case .budgetForecast(let f):
                    s.forecasts.append(f)
                    if s.forecasts.count > maximumAnomalies { s.forecasts.removeFirst() }
                default:
                    continue
                }
                s.version += 1
            }
        }
    }

    public func finish() async throws {}

    static let performanceSeries: Set<String> = ["response_time", "db_query_time", "memory_usage"]

    /// Appends a window, keeping `limit`, and the sketch of the newest `sketchedWindows` only.
    static func append(_ w: WindowSummary, to windows: inout Deque<WindowSummary>, limit: Int) {
        windows.append(w)
        if windows.count > limit { windows.removeFirst() }
        let older = windows.count - sketchedWindows - 1
        if older >= 0 { windows[older].sketch = nil }
    }

    /// Merges a route's window into the all-routes window of its span (one of the newest two,
    /// which keep their sketches: routes of one span arrive together), or starts it.
    static func merge(_ w: WindowSummary, into windows: inout Deque<WindowSummary>, limit: Int) {
        if let i = windows.indices.suffix(sketchedWindows).last(where: { windows[$0].span == w.span }) {
            windows[i] = WindowSummary.merging([windows[i], w], span: w.span, series: windows[i].series)
        } else {
            var first = w
            first.series = w.series.withoutRoute
            append(first, to: &windows, limit: limit)
        }
    }

    /// What a viewer may see: everything for admin, one tenant's data for a tenant.
    public func snapshot(tenant: String?) -> Snapshot {
        state.withLock { s in
            var out = Snapshot()
            out.version = s.version
            for (key, ws) in s.windows where tenant == nil || key.tenantID == tenant { out.windows[key] = Array(ws) }
            for (key, ws) in s.allRoutes where tenant == nil || key.tenantID == tenant { out.allRoutes[key] = Array(ws) }
            for (key, cs) in s.caches where tenant == nil || key.tenantID == tenant { out.caches[key] = Array(cs) }
            for (site, vs) in s.visits where tenant == nil || site == tenant { out.visits[site] = Array(vs) }
            out.anomalies = s.anomalies.filter { tenant == nil || $0.series.tenantID == tenant }
            out.alerts = s.alerts.filter { tenant == nil || $0.tenantID == tenant }
            out.forecasts = s.forecasts.filter { tenant == nil || $0.tenantID == tenant }
            return out
        }
    }

    /// Held windows in all, for tests of the bound.
    public var heldWindows: Int { state.withLock { $0.windows.values.reduce(0) { $0 + $1.count } } }
}

extension SeriesKey {
    /// The series without its `route` label: what every route of it merges into.
    var withoutRoute: SeriesKey {
        SeriesKey(tenantID: tenantID, name: name, labels: Labels(labels.filter { $0.key != "route" }))
    }
}
