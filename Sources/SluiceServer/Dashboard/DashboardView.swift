import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// Everything the five widgets draw, gathered for one viewer and one view (the URL's tenant,
/// route, series and time range).
struct DashboardData: Sendable {
    var snapshot: DashboardSink.Snapshot
    var tokens: [TokenUsageSummary]
    var budgets: [String: TokenMeter.Configuration.Budget]
    /// The token meter's current burn-rate forecasts.
    var forecasts: [BudgetForecast] = []
    var retention: Configuration.Retention
    var stats: StoreStats?
    var dryRun: RetentionPruner.Report?
    /// The tenant a tenant token is limited to; `nil` for admin.
    var viewer: String?
    var tenant: String?
    var route: String?
    /// The AnalyticsCharts series, as `DashboardWidget.seriesName` writes it.
    var series: String?
    var range: DashboardRange
    var query: String

    init(snapshot: DashboardSink.Snapshot, tokens: [TokenUsageSummary], budgets: [String: TokenMeter.Configuration.Budget],
         forecasts: [BudgetForecast] = [], retention: Configuration.Retention, stats: StoreStats?, dryRun: RetentionPruner.Report?,
         viewer: String?, tenant: String?, route: String?, series: String? = nil, range: DashboardRange? = nil, query: String) {
        self.snapshot = snapshot
        self.tokens = tokens
        self.budgets = budgets
        self.forecasts = forecasts
        self.retention = retention
        self.stats = stats
        self.dryRun = dryRun
        self.viewer = viewer
        self.tenant = tenant
        self.route = route
        self.series = series
        self.range = range ?? DashboardRange.resolve(from: nil, to: nil, now: snapshot.newestEnd ?? Timestamp.now().microseconds)
        self.query = query
    }

    var domain: ClosedRange<Int64> { range.from...range.to }

    /// A series' windows that end inside the view's range.
    func inRange<W>(_ windows: [W], end: (W) -> Int64) -> [W] { windows.filter { range.contains(end($0)) } }
}

/// A table of a widget's data, as its CSV export writes it.
struct WidgetTable {
    var header: [String]
    var rows: [[String]] = []

    var csv: String {
        ([header] + rows).map { $0.map(Self.field).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    /// RFC 4180: quoted when it holds a comma, a quote or a line break.
    static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// The widgets as HTML, under the names the product spec gives them, each drawn from
/// `DashboardData` alone; and each widget's data as a table for CSV export.
enum DashboardWidget: String, CaseIterable, Sendable {
    case performanceDashboard = "performance-dashboard"
    case analyticsCharts = "analytics-charts"
    case multiSiteAggregator = "multi-site-aggregator"
    case tokenUsageMonitor = "token-usage-monitor"
    case retentionPolicyManager = "retention-policy-manager"

    var title: String {
        switch self {
        case .performanceDashboard: "PerformanceDashboard"
        case .analyticsCharts: "AnalyticsCharts"
        case .multiSiteAggregator: "MultiSiteAggregator"
        case .tokenUsageMonitor: "TokenUsageMonitor"
        case .retentionPolicyManager: "RetentionPolicyManager"
        }
    }

    /// What the widget shows, under its title.
    var subtitle: String {
        switch self {
        case .performanceDashboard: "response and query time percentiles, memory"
        case .analyticsCharts: "response times, any series, cache hit ratio"
        case .multiSiteAggregator: "visits and unique visitors per site"
        case .tokenUsageMonitor: "this month's tokens and cost against budget"
        case .retentionPolicyManager: "policy, data held, the next prune"
        }
    }

    func render(_ d: DashboardData) -> String {
        switch self {
        case .performanceDashboard: Self.performance(d)
        case .analyticsCharts: Self.analytics(d)
        case .multiSiteAggregator: Self.sites(d)
        case .tokenUsageMonitor: Self.tokens(d)
        case .retentionPolicyManager: Self.retention(d)
        }
    }

    func table(_ d: DashboardData) -> WidgetTable {
        switch self {
        case .performanceDashboard: Self.performanceTable(d)
        case .analyticsCharts: Self.analyticsTable(d)
        case .multiSiteAggregator: Self.sitesTable(d)
        case .tokenUsageMonitor: Self.tokensTable(d)
        case .retentionPolicyManager: Self.retentionTable(d)
        }
    }

    static let colors = ["#2563eb", "#f59e0b", "#dc2626", "#059669", "#7c3aed"]

    /// Tenants that have any window, in order.
    static func tenants(_ d: DashboardData) -> [String] {
        Set(d.snapshot.windows.keys.compactMap(\.tenantID)).union(d.snapshot.caches.keys.compactMap(\.tenantID)).sorted()
    }

    static func selectedTenant(_ d: DashboardData) -> String? {
        d.viewer ?? d.tenant ?? tenants(d).first { t in d.snapshot.windows.keys.contains { $0.tenantID == t && $0.name == "response_time" } } ?? tenants(d).first
    }

    static func markers(_ d: DashboardData, tenant: String?, names: Set<String>) -> [(x: Int64, label: String)] {
        d.snapshot.anomalies.filter { $0.series.tenantID == tenant && names.contains($0.series.name) }
            .map { ($0.timestamp.microseconds - 1, "\(Number.clock($0.timestamp.microseconds)) UTC · \($0.reason) · score \(Number.trim($0.score, 2))") }
    }

    static func time(_ microseconds: Int64) -> String { RFC3339.format(Timestamp(microseconds: microseconds)) }

    // MARK: Performance

    static let performanceNames = ["response_time", "db_query_time", "memory_usage"]

    /// The performance view: the tenant, the route (nil: every route merged), and the windows
    /// of each series in range.
    static func performanceView(_ d: DashboardData) -> (tenant: String?, routes: [String], route: String?, series: [String: [WindowSummary]]) {
        let tenant = selectedTenant(d)
        let perf = d.snapshot.windows.filter { $0.key.tenantID == tenant && performanceNames.contains($0.key.name) }
        let routes = Set(perf.keys.compactMap { $0.labels["route"] }).sorted()
        let busiest = routes.max { a, b in
            perf.filter { $0.key.labels["route"] == a }.values.joined().reduce(0) { $0 + $1.count }
                < perf.filter { $0.key.labels["route"] == b }.values.joined().reduce(0) { $0 + $1.count }
        }
        // Every route merged by default (from the windows' sketches); one route when asked.
        let route = d.route.flatMap { routes.contains($0) ? $0 : nil } ?? (routes.count > 1 ? nil : busiest)
        var series: [String: [WindowSummary]] = [:]
        for name in performanceNames {
            let ws = if route == nil, routes.count > 1 {
                d.snapshot.allRoutes.first { $0.key.tenantID == tenant && $0.key.name == name }?.value ?? []
            } else {
                perf.first { $0.key.name == name && $0.key.labels["route"] == route }?.value ?? []
            }
            series[name] = d.inRange(ws) { $0.span.end.microseconds }
        }
        return (tenant, routes, route, series)
    }

    static func performance(_ d: DashboardData) -> String {
        let view = performanceView(d)
        var html = "<div class=\"controls\"><label>Route <select data-param=\"route\" onchange=\"sluice.select('route', this.value)\">"
        if view.routes.count > 1 { html += "<option value=\"\"\(view.route == nil ? " selected" : "")>all routes</option>" }
        for r in view.routes { html += "<option\(r == view.route ? " selected" : "")>\(escape(r))</option>" }
        if view.routes.isEmpty { html += "<option value=\"\">no routes</option>" }
        html += "</select></label><span class=\"muted\">\(escape(view.tenant ?? "no tenant"))</span></div>"
        let marks = markers(d, tenant: view.tenant, names: Set(performanceNames))
        let which = view.route ?? (view.routes.count > 1 ? "all routes" : "no route")
        for name in ["response_time", "db_query_time"] {
            let ws = view.series[name] ?? []
            let lines = [("p50", \WindowSummary.p50), ("p95", \WindowSummary.p95), ("p99", \WindowSummary.p99)].enumerated().map { i, s in
                SVGChart.Line(name: s.0, color: colors[i], points: ws.map { ($0.span.end.microseconds, $0[keyPath: s.1]) })
            }
            html += SVGChart(lines: lines, markers: marks, unit: .milliseconds, domain: d.domain)
                .render(title: "\(name.replacingOccurrences(of: "_", with: " ")) (\(which))")
        }
        let memory = view.series["memory_usage"] ?? []
        html += SVGChart(lines: [
            .init(name: "mean", color: colors[3], points: memory.map { ($0.span.end.microseconds, $0.mean) }),
            .init(name: "max", color: colors[2], points: memory.map { ($0.span.end.microseconds, $0.max) }),
        ], markers: marks, unit: .megabytes, domain: d.domain).render(title: "memory usage (\(which))")
        let latest = performanceNames.compactMap { view.series[$0]?.last?.span.end.microseconds }.max()
        html += "<div class=\"scroll\"><table class=\"numbers\"><caption>\(latest.map { "The window ending \(Number.clock($0)) UTC" } ?? "No window in this time range")</caption>"
        html += "<tr><th>series</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>mean</th><th>max</th></tr>"
        for name in performanceNames {
            guard let w = view.series[name]?.last, w.span.end.microseconds == latest else { continue }
            let unit = name == "memory_usage" ? "MB" : "ms"
            html += "<tr data-series=\"\(name)\"><td>\(name.replacingOccurrences(of: "_", with: " ")) (\(unit))</td><td data-k=\"\(name)-count\">\(Number.grouped(w.count))</td>"
            for (stat, value) in [("p50", w.p50), ("p95", w.p95), ("p99", w.p99), ("mean", w.mean), ("max", w.max)] {
                // The exact value rides along for checks and copying; the cell shows it short.
                html += "<td data-k=\"\(name)-\(stat)\" data-v=\"\(value)\">\(Number.grouped(value, significant: 4))</td>"
            }
            html += "</tr>"
        }
        return html + "</table></div>" + anomalyList(d, tenant: d.viewer)
    }

    /// One row per window in range, the columns of `GET /api/v2/analytics/performance`.
    static func performanceTable(_ d: DashboardData) -> WidgetTable {
        let view = performanceView(d)
        var table = WidgetTable(header: ["start", "end", "tenant_id", "route",
                                         "response_time_p50", "response_time_p90", "response_time_p95", "response_time_p99", "response_time_mean", "response_time_count",
                                         "db_query_time_p50", "db_query_time_p90", "db_query_time_p95", "db_query_time_p99", "db_query_time_mean", "db_query_time_count",
                                         "memory_usage_mean", "memory_usage_max"])
        var bySpan: [WindowSpan: [String: WindowSummary]] = [:]
        for (name, ws) in view.series { for w in ws { bySpan[w.span, default: [:]][name] = w } }
        for span in bySpan.keys.sorted() {
            let row = bySpan[span]!
            var cells = [time(span.start.microseconds), time(span.end.microseconds), view.tenant ?? "", view.route ?? ""]
            for name in ["response_time", "db_query_time"] {
                if let w = row[name] {
                    cells += [w.p50, w.p90, w.p95, w.p99, w.mean].map(csvNumber) + [String(w.count)]
                } else {
                    cells += Array(repeating: "", count: 6)
                }
            }
            cells += row["memory_usage"].map { [csvNumber($0.mean), csvNumber($0.max)] } ?? ["", ""]
            table.rows.append(cells)
        }
        return table
    }

    /// Shortest round-trip form, as the JSON API writes numbers.
    static func csvNumber(_ v: Double) -> String {
        var json = JSONWriter()
        json.number(v)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    static func anomalyList(_ d: DashboardData, tenant: String?) -> String {
        let list = d.snapshot.anomalies.filter { (tenant == nil || $0.series.tenantID == tenant) && d.range.contains($0.timestamp.microseconds) }.suffix(8).reversed()
        guard !list.isEmpty else { return "<p class=\"muted\">No anomalies in this time range.</p>" }
        var html = "<ul class=\"anomalies\">"
        for a in list {
            html += "<li data-anomaly><b>\(Number.clock(a.timestamp.microseconds))</b> \(escape(a.series.tenantID ?? "-")) · \(escape(a.reason)) <span class=\"score\">\(Number.trim(a.score, 2))</span></li>"
        }
        return html + "</ul>"
    }

    // MARK: Analytics

    /// `cpu` or `cpu{host="a"}`: a series as the selector and the CSV name it.
    static func seriesName(_ key: SeriesKey) -> String {
        key.labels.pairs.isEmpty ? key.name : key.name + "{" + key.labels.pairs.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }

    static func analyticsView(_ d: DashboardData) -> (tenant: String?, mean: [(x: Int64, y: Double)], choices: [String], series: String?, windows: [WindowSummary], caches: [(key: SeriesKey, windows: [CacheWindowSummary])]) {
        let tenant = selectedTenant(d)
        let response = d.snapshot.windows.filter { $0.key.tenantID == tenant && $0.key.name == "response_time" }
        var byEnd: [Int64: (sum: Double, count: UInt64)] = [:]
        for w in response.values.joined() where d.range.contains(w.span.end.microseconds) {
            let e = byEnd[w.span.end.microseconds] ?? (0, 0)
            byEnd[w.span.end.microseconds] = (e.sum + w.sum, e.count + w.count)
        }
        let mean = byEnd.keys.sorted().map { ($0, byEnd[$0]!.sum / Double(max(byEnd[$0]!.count, 1))) }
        let others = d.snapshot.windows.filter { $0.key.tenantID == tenant && !performanceNames.contains($0.key.name) }
        let choices = others.keys.sorted().map(seriesName)
        let series = d.series.flatMap { choices.contains($0) ? $0 : nil } ?? choices.first
        let windows = others.first { seriesName($0.key) == series }.map { d.inRange($0.value) { $0.span.end.microseconds } } ?? []
        // Every cache the viewer may see.
        let caches = d.snapshot.caches.sorted { $0.key < $1.key }.map { ($0.key, d.inRange($0.value) { $0.span.end.microseconds }) }
        return (tenant, mean, choices, series, windows, caches)
    }

    static func cacheLabel(_ key: SeriesKey) -> String { "\(key.tenantID ?? "-") \(key.name.isEmpty ? "cache" : key.name)" }

    static func analytics(_ d: DashboardData) -> String {
        let view = analyticsView(d)
        var html = SVGChart(lines: [.init(name: "mean, all routes", color: colors[0], points: view.mean)],
                            markers: markers(d, tenant: view.tenant, names: ["response_time"]), unit: .milliseconds, domain: d.domain)
            .render(title: "response time (\(view.tenant ?? "-"))")
        html += "<div class=\"controls\"><label>Series <select data-param=\"series\" onchange=\"sluice.select('series', this.value)\">"
        for s in view.choices { html += "<option\(s == view.series ? " selected" : "")>\(escape(s))</option>" }
        if view.choices.isEmpty { html += "<option value=\"\">no other series</option>" }
        html += "</select></label></div>"
        if let series = view.series {
            let name = String(series.prefix { $0 != "{" })
            html += SVGChart(lines: [
                .init(name: "mean", color: colors[0], points: view.windows.map { ($0.span.end.microseconds, $0.mean) }),
                .init(name: "p95", color: colors[1], points: view.windows.map { ($0.span.end.microseconds, $0.p95) }),
                .init(name: "max", color: colors[2], points: view.windows.map { ($0.span.end.microseconds, $0.max) }),
            ], markers: markers(d, tenant: view.tenant, names: [name]), domain: d.domain).render(title: series)
        }
        let ratioLines = view.caches.enumerated().map { i, c in
            SVGChart.Line(name: cacheLabel(c.key), color: colors[i % colors.count],
                          points: c.windows.compactMap { w in w.hitRatio.map { (w.span.end.microseconds, $0 * 100) } })
        }
        html += SVGChart(lines: ratioLines, unit: .percent, yRange: 0...100, domain: d.domain).render(title: "cache hit ratio")
        html += "<div class=\"scroll\"><table class=\"numbers\"><tr><th>cache</th><th>window end</th><th>hits</th><th>misses</th><th>hit ratio</th><th>size</th></tr>"
        for (key, ws) in view.caches {
            guard let w = ws.last else { continue }
            let name = cacheLabel(key)
            html += "<tr data-cache=\"\(escape(name))\"><td>\(escape(name))</td><td>\(Number.clock(w.span.end.microseconds))</td><td data-k=\"hits\">\(Number.grouped(w.hits))</td><td data-k=\"misses\">\(Number.grouped(w.misses))</td>"
            html += "<td data-k=\"hit-ratio\" data-v=\"\(w.hitRatio.map { String($0) } ?? "")\">\(Number.percent(w.hitRatio))</td><td>\(Number.bytes(Double(w.sizeKB) * 1_024))</td></tr>"
        }
        return html + "</table></div>"
    }

    /// Every point the widget draws: one row per chart, line and window.
    static func analyticsTable(_ d: DashboardData) -> WidgetTable {
        let view = analyticsView(d)
        var table = WidgetTable(header: ["chart", "series", "end", "value"])
        for p in view.mean { table.rows.append(["response_time", "mean, all routes", time(p.x), csvNumber(p.y)]) }
        if let series = view.series {
            for w in view.windows {
                for (stat, v) in [("mean", w.mean), ("p95", w.p95), ("max", w.max)] {
                    table.rows.append([series, stat, time(w.span.end.microseconds), csvNumber(v)])
                }
            }
        }
        for (key, ws) in view.caches {
            for w in ws { table.rows.append(["cache_hit_ratio", cacheLabel(key), time(w.span.end.microseconds), w.hitRatio.map(csvNumber) ?? ""]) }
        }
        return table
    }

    // MARK: Sites

    static func sitesView(_ d: DashboardData) -> [(site: String, windows: [VisitsWindowSummary])] {
        d.snapshot.visits.map { ($0.key, d.inRange($0.value) { $0.span.end.microseconds }) }
            .filter { !$0.1.isEmpty }
            .sorted { a, b in
                let (x, y) = (a.1.last!.visits, b.1.last!.visits)
                return x != y ? x > y : a.0 < b.0
            }
    }

    static func sites(_ d: DashboardData) -> String {
        var html = "<div class=\"scroll\"><table class=\"numbers sortable\"><thead><tr><th>site</th>"
        html += "<th class=\"sort\" onclick=\"sluice.sort(this, 1)\">visits ▾</th><th class=\"sort\" onclick=\"sluice.sort(this, 2)\">unique visitors</th>"
        html += "<th class=\"sort\" onclick=\"sluice.sort(this, 3)\">visits in range</th><th>last window</th><th>visits over time</th></tr></thead><tbody>"
        let rows = sitesView(d)
        for (site, ws) in rows {
            let last = ws.last!
            let total = ws.reduce(UInt64(0)) { $0 + $1.visits }
            html += "<tr data-site=\"\(escape(site))\"><td>\(escape(site.isEmpty ? "(platform)" : site))</td>"
            html += "<td data-k=\"visits\" data-v=\"\(last.visits)\">\(Number.grouped(last.visits))</td><td data-k=\"unique\" data-v=\"\(last.uniqueVisitors)\">\(Number.grouped(last.uniqueVisitors))</td>"
            html += "<td data-k=\"range-visits\" data-v=\"\(total)\">\(Number.grouped(total))</td>"
            html += "<td>\(Number.clock(last.span.start.microseconds))–\(Number.clock(last.span.end.microseconds))</td><td>\(SVGChart.sparkline(ws.map { Double($0.visits) }))</td></tr>"
        }
        if rows.isEmpty { html += "<tr><td colspan=\"6\" class=\"muted\">No visits in this time range.</td></tr>" }
        return html + "</tbody></table></div>"
    }

    static func sitesTable(_ d: DashboardData) -> WidgetTable {
        var table = WidgetTable(header: ["site", "start", "end", "visits", "unique_visitors"])
        for (site, ws) in sitesView(d).sorted(by: { $0.site < $1.site }) {
            for w in ws { table.rows.append([site, time(w.span.start.microseconds), time(w.span.end.microseconds), String(w.visits), String(w.uniqueVisitors)]) }
        }
        return table
    }

    // MARK: Tokens

    static func money(_ micros: Int64) -> String {
        var json = JSONWriter()
        json.decimal(micros: micros)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    static func dollars(_ micros: Int64) -> String {
        let v = Double(micros) / 1e6
        return "$" + Number.grouped(v, significant: v >= 1 ? max(3, String(Int64(v)).count + 2) : 3)
    }

    static func tokens(_ d: DashboardData) -> String {
        let month = d.tokens.filter { $0.period == .month }
        var html = "<div class=\"scroll\"><table class=\"numbers\"><tr><th>tenant</th><th>model</th><th>requests</th><th>tokens</th><th>cost</th></tr>"
        let byTenant = Dictionary(grouping: month, by: \.tenantID)
        for tenant in byTenant.keys.sorted() {
            let rows = byTenant[tenant]!.sorted { $0.model < $1.model }
            for (i, u) in rows.enumerated() {
                html += "<tr data-tenant=\"\(escape(tenant))\" data-model=\"\(escape(u.model))\"><td>\(i == 0 ? escape(tenant) : "")</td><td>\(escape(u.model))</td><td>\(Number.grouped(u.requests))</td>"
                html += "<td data-k=\"tokens\" data-v=\"\(u.totalTokens)\">\(Number.grouped(u.totalTokens))</td>"
                if let cost = u.costMicroUSD {
                    html += "<td data-k=\"cost\" data-v=\"\(money(cost))\">\(dollars(cost))</td>"
                } else {
                    html += "<td data-k=\"cost\" class=\"warn\" title=\"no price configured for this model: add it under tokens.pricing\">unpriced</td>"
                }
                html += "</tr>"
            }
        }
        if byTenant.isEmpty { html += "<tr><td colspan=\"5\" class=\"muted\">No token usage this month.</td></tr>" }
        html += "</table></div>"
        // Budgets: one bar per budget kind, with the thresholds marked and the forecast beside.
        let budgeted = d.budgets.keys.filter { d.viewer == nil || $0 == d.viewer }.sorted()
        if !budgeted.isEmpty {
            html += "<h3>Budgets</h3><div class=\"budgets\">"
            for tenant in budgeted {
                let budget = d.budgets[tenant]!
                let rows = byTenant[tenant] ?? []
                let usedTokens = rows.reduce(UInt64(0)) { $0 + $1.totalTokens }
                let usedMicro = rows.reduce(Int64(0)) { $0 + ($1.costMicroUSD ?? 0) }
                html += "<div class=\"budget\" data-tenant=\"\(escape(tenant))\"><b>\(escape(tenant))</b>"
                // Under each bar, the next threshold the burn rate reaches this month, if any.
                func next(_ kind: BudgetForecast.Kind) -> String {
                    guard let f = d.forecasts.filter({ $0.tenantID == tenant && $0.kind == kind }).min(by: { $0.threshold < $1.threshold }) else { return "" }
                    return "<p class=\"forecast\" data-k=\"forecast\">\(escape(sentence(f)))</p>"
                }
                if let limit = budget.monthlyTokens {
                    html += bar(used: Double(usedTokens), limit: Double(limit), thresholds: budget.thresholds,
                                label: "\(Number.grouped(usedTokens)) of \(Number.grouped(limit)) tokens", kind: "tokens")
                    html += next(.tokens)
                }
                if let limit = budget.monthlyMicroUSD {
                    html += bar(used: Double(usedMicro), limit: Double(limit), thresholds: budget.thresholds,
                                label: "\(dollars(usedMicro)) of \(dollars(limit))", kind: "usd")
                    html += next(.usd)
                }
                html += "</div>"
            }
            html += "</div>"
        } else if !month.isEmpty {
            html += "<p class=\"muted\">No budgets configured: set tokens.budgets to see usage against them.</p>"
        }
        // Cost per model, every tenant the viewer sees.
        let byModel = Dictionary(grouping: month, by: \.model).map { model, rows in
            (model, rows.reduce(UInt64(0)) { $0 + $1.totalTokens }, rows.allSatisfy { $0.costMicroUSD != nil } ? rows.reduce(Int64(0)) { $0 + $1.costMicroUSD! } : nil as Int64?)
        }.sorted { ($0.2 ?? -1, $0.1) > ($1.2 ?? -1, $1.1) }
        if !byModel.isEmpty {
            let top = max(byModel.compactMap(\.2).max() ?? 0, 1)
            html += "<h3>Cost per model</h3><div class=\"scroll\"><table class=\"numbers\"><tr><th>model</th><th>tokens</th><th>cost</th><th>share</th></tr>"
            for (model, tokens, cost) in byModel {
                html += "<tr data-cost-model=\"\(escape(model))\"><td>\(escape(model))</td><td>\(Number.grouped(tokens))</td>"
                if let cost {
                    html += "<td data-k=\"model-cost\" data-v=\"\(money(cost))\">\(dollars(cost))</td><td><div class=\"bar small\"><span style=\"width:\(Number.trim(Double(cost) / Double(top) * 100, 1))%\"></span></div></td></tr>"
                } else {
                    html += "<td class=\"warn\">unpriced</td><td></td></tr>"
                }
            }
            html += "</table></div>"
        }
        let alerts = d.snapshot.alerts.filter { d.viewer == nil || $0.tenantID == d.viewer }
        let raised = d.snapshot.forecasts.filter { d.viewer == nil || $0.tenantID == d.viewer }
        if !alerts.isEmpty || !raised.isEmpty {
            html += "<ul class=\"alerts\">"
            for a in alerts.suffix(3).reversed() {
                html += "<li>\(escape(a.tenantID)) passed \(Number.trim(a.threshold * 100, 0))% of its monthly budget (request \(escape(a.requestID)))</li>"
            }
            for f in raised.suffix(3).reversed() {
                html += "<li data-k=\"forecast-alert\">\(escape(f.tenantID)): \(escape(sentence(f)))</li>"
            }
            html += "</ul>"
        }
        return html
    }

    /// "At the last 24 h rate (4,000 tokens/h), 80% of the token budget is reached on 30 Nov
    /// at 22:42 UTC." The span is the one the rate was measured over.
    static func sentence(_ f: BudgetForecast) -> String {
        let hours = Double(f.measuredTo.microseconds - f.measuredFrom.microseconds) / 3_600_000_000
        let span = hours >= 1 ? Number.grouped(hours, significant: 2) + " h" : Number.grouped(hours * 60, significant: 2) + " min"
        let rate = f.kind == .tokens ? Number.grouped(f.ratePerHour, significant: 3) + " tokens/h" : "$" + Number.grouped(f.ratePerHour, significant: 3) + "/h"
        let date = RFC3339.format(f.reachedAt)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let chars = Array(date)
        let month = Int(String(chars[5..<7])).map { months[$0 - 1] } ?? String(chars[5..<7])
        let day = String(Int(String(chars[8..<10])) ?? 0)
        let budget = f.kind == .tokens ? "token budget" : "dollar budget"
        return "At the last \(span) rate (\(rate)), \(Number.trim(f.threshold * 100, 0))% of the \(budget) is reached on \(day) \(month) at \(String(chars[11..<16])) UTC."
    }

    static func bar(used: Double, limit: Double, thresholds: [Double], label: String, kind: String) -> String {
        let ratio = limit > 0 ? used / limit : 0
        let near = ratio >= (thresholds.dropLast().last ?? 0.8)
        var html = "<div class=\"bar\" data-k=\"budget-used\" data-kind=\"\(kind)\" data-v=\"\(Number.trim(ratio * 100, 1))\"><span style=\"width:\(Number.trim(min(ratio, 1) * 100, 1))%\" class=\"\(ratio >= 1 ? "over" : near ? "near" : "")\"></span>"
        for t in thresholds where t <= 1 { html += "<i style=\"left:\(Number.trim(t * 100, 1))%\" title=\"\(Number.trim(t * 100, 0))% threshold\"></i>" }
        return html + "</div><small>\(label) · \(Number.trim(ratio * 100, 1))%</small>"
    }

    static func tokensTable(_ d: DashboardData) -> WidgetTable {
        var table = WidgetTable(header: ["tenant_id", "model", "period", "start", "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "cost_usd"])
        for u in d.tokens.filter({ $0.period == .month }).sorted(by: { ($0.tenantID, $0.model) < ($1.tenantID, $1.model) }) {
            table.rows.append([u.tenantID, u.model, u.period.rawValue, time(u.start.microseconds), String(u.requests), String(u.promptTokens),
                               String(u.completionTokens), String(u.cachedTokens), String(u.totalTokens), u.costMicroUSD.map(money) ?? ""])
        }
        return table
    }

    // MARK: Retention

    /// A byte count as the policy is written: `10GiB` when it is a whole number of a unit.
    static func sizeSpelling(_ bytes: Int64) -> String {
        for (suffix, scale) in [("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= scale && bytes % scale == 0 {
            return "\(bytes / scale)\(suffix)"
        }
        return String(bytes)
    }

    static func retention(_ d: DashboardData) -> String {
        var html = "<form class=\"retention\" onsubmit=\"sluice.saveRetention(this);return false\"><table class=\"numbers\"><tr><th>type</th><th>max age</th></tr>"
        for type in Configuration.Retention.recordTypes {
            let age = d.retention.maxAge[type]?.humanDescription ?? ""
            html += "<tr><td>\(type)</td><td><input name=\"\(type)\" value=\"\(age)\" size=\"6\" aria-label=\"max age of \(type)\"\(d.viewer == nil ? "" : " disabled")></td></tr>"
        }
        html += "<tr><td>size cap</td><td><input name=\"max_bytes\" value=\"\(sizeSpelling(d.retention.maxBytes))\" size=\"8\" aria-label=\"size cap\" title=\"\(Number.grouped(d.retention.maxBytes)) bytes\"\(d.viewer == nil ? "" : " disabled")></td></tr></table>"
        for (tenant, ages) in d.retention.tenants.sorted(by: { $0.key < $1.key }) {
            html += "<p class=\"muted\">\(escape(tenant)): " + ages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.humanDescription)" }.joined(separator: ", ") + "</p>"
        }
        if d.viewer == nil { html += "<button type=\"submit\">Save policy</button> <span class=\"status\" role=\"status\"></span>" }
        html += "</form>"
        if let stats = d.stats {
            html += "<div class=\"scroll\"><table class=\"numbers\"><tr><th>type</th><th>tenant</th><th>records</th><th>bytes</th><th>since</th></tr>"
            for (key, row) in stats.rows.sorted(by: { $0.key < $1.key }) where d.viewer == nil || key.tenantID == d.viewer {
                html += "<tr data-held=\"\(key.type)|\(escape(key.tenantID ?? "-"))\"><td>\(key.type)</td><td>\(escape(key.tenantID ?? "-"))</td><td data-k=\"records\" data-v=\"\(row.records)\">\(Number.grouped(row.records))</td>"
                html += "<td data-v=\"\(row.bytes)\">\(Number.bytes(Double(row.bytes)))</td><td>\(RFC3339.format(Timestamp(microseconds: row.minTime)).prefix(10))</td></tr>"
            }
            html += "</table></div>"
        } else {
            html += "<p class=\"muted\">No data directory: start serve with --data-dir to keep data and see it here.</p>"
        }
        if let report = d.dryRun {
            // A tenant sees what the prune takes from its own data only.
            let (records, bytes) = d.viewer.map { report.removed(tenant: $0) } ?? (report.removedRecords, report.bytesBefore - report.bytesAfter)
            html += "<p data-k=\"next-prune\">Next prune would remove <b>\(Number.grouped(records))</b> records (\(Number.bytes(Double(bytes)))).</p>"
            if d.viewer == nil {
                if report.refusal != nil { html += "<p class=\"warn\" data-k=\"needs-confirmation\">That is more than half of the store: it runs only when confirmed.</p>" }
                html += "<button onclick=\"sluice.applyRetention(this)\">Apply now</button> <span class=\"status\"></span>"
            }
        }
        return html
    }

    static func retentionTable(_ d: DashboardData) -> WidgetTable {
        var table = WidgetTable(header: ["type", "tenant_id", "max_age", "records", "bytes", "since"])
        for type in Configuration.Retention.recordTypes {
            table.rows.append([type, "", d.retention.maxAge[type]?.humanDescription ?? "", "", "", ""])
        }
        for (tenant, ages) in d.retention.tenants.sorted(by: { $0.key < $1.key }) {
            for (type, age) in ages.sorted(by: { $0.key < $1.key }) { table.rows.append([type, tenant, age.humanDescription, "", "", ""]) }
        }
        if let stats = d.stats {
            for (key, row) in stats.rows.sorted(by: { $0.key < $1.key }) where d.viewer == nil || key.tenantID == d.viewer {
                table.rows.append([key.type, key.tenantID ?? "", "", String(row.records), String(row.bytes), time(row.minTime)])
            }
        }
        return table
    }
}
