import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceStore

/// Everything the five widgets draw, gathered for one viewer.
struct DashboardData: Sendable {
    var snapshot: DashboardSink.Snapshot
    var tokens: [TokenUsageSummary]
    var budgets: [String: TokenMeter.Configuration.Budget]
    var retention: Configuration.Retention
    var stats: StoreStats?
    var dryRun: RetentionPruner.Report?
    /// The tenant a tenant token is limited to; `nil` for admin.
    var viewer: String?
    var tenant: String?
    var route: String?
    var query: String
}

/// The widgets as HTML (design §5's names), each drawn from `DashboardData` alone.
enum DashboardWidget: String, CaseIterable, Sendable {
    case performanceDashboard = "performance-dashboard"
    case analyticsCharts = "analytics-charts"
    case multiSiteAggregator = "multi-site-aggregator"
    case tokenUsageMonitor = "token-usage-monitor"
    case retentionPolicyManager = "retention-policy-manager"

    var title: String {
        switch self {
        case .performanceDashboard: "Performance"
        case .analyticsCharts: "Response times and cache"
        case .multiSiteAggregator: "Sites"
        case .tokenUsageMonitor: "Token usage this month"
        case .retentionPolicyManager: "Retention"
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

    static let colors = ["#2563eb", "#f59e0b", "#dc2626", "#059669", "#7c3aed"]

    /// Tenants that have any window, in order.
    static func tenants(_ d: DashboardData) -> [String] {
        Set(d.snapshot.windows.keys.compactMap(\.tenantID)).sorted()
    }

    static func selectedTenant(_ d: DashboardData) -> String? {
        d.viewer ?? d.tenant ?? tenants(d).first { t in d.snapshot.windows.keys.contains { $0.tenantID == t && $0.name == "response_time" } } ?? tenants(d).first
    }

    static func markers(_ d: DashboardData, tenant: String?, names: Set<String>) -> [(x: Int64, label: String)] {
        d.snapshot.anomalies.filter { $0.series.tenantID == tenant && names.contains($0.series.name) }
            .map { ($0.timestamp.microseconds - 1, $0.reason) }
    }

    // MARK: Performance

    static func performance(_ d: DashboardData) -> String {
        let tenant = selectedTenant(d)
        let perf = d.snapshot.windows.filter { $0.key.tenantID == tenant && ["response_time", "db_query_time", "memory_usage"].contains($0.key.name) }
        let routes = Set(perf.keys.compactMap { $0.labels["route"] }).sorted()
        let busiest = routes.max { a, b in
            perf.filter { $0.key.labels["route"] == a }.values.joined().reduce(0) { $0 + $1.count }
                < perf.filter { $0.key.labels["route"] == b }.values.joined().reduce(0) { $0 + $1.count }
        }
        // Every route merged by default (from the windows' sketches); one route when asked.
        let route = d.route.flatMap { routes.contains($0) ? $0 : nil } ?? (routes.count > 1 ? nil : busiest)
        func series(_ name: String) -> [WindowSummary] {
            if route == nil, routes.count > 1 {
                return d.snapshot.allRoutes.first { $0.key.tenantID == tenant && $0.key.name == name }?.value ?? []
            }
            return perf.first { $0.key.name == name && $0.key.labels["route"] == route }?.value ?? []
        }
        var html = "<div class=\"controls\">"
        if d.viewer == nil {
            html += "<label>Tenant <select onchange=\"sluice.select('tenant', this.value)\">"
            for t in tenants(d) { html += "<option\(t == tenant ? " selected" : "")>\(escape(t))</option>" }
            html += "</select></label>"
        } else {
            html += "<span class=\"pill\">\(escape(tenant ?? "-"))</span>"
        }
        html += "<label>Route <select onchange=\"sluice.select('route', this.value)\">"
        if routes.count > 1 { html += "<option value=\"\"\(route == nil ? " selected" : "")>all routes</option>" }
        for r in routes { html += "<option\(r == route ? " selected" : "")>\(escape(r))</option>" }
        html += "</select></label></div>"
        let marks = markers(d, tenant: tenant, names: ["response_time", "db_query_time", "memory_usage"])
        for (name, unit) in [("response_time", " ms"), ("db_query_time", " ms")] {
            let ws = series(name)
            let lines = [("p50", \WindowSummary.p50), ("p95", \WindowSummary.p95), ("p99", \WindowSummary.p99)].enumerated().map { i, s in
                SVGChart.Line(name: s.0, color: colors[i], points: ws.map { ($0.span.end.microseconds, $0[keyPath: s.1]) })
            }
            html += SVGChart(lines: lines, markers: marks, unit: unit).render(title: "\(name.replacingOccurrences(of: "_", with: " ")) (\(route ?? (routes.count > 1 ? "all routes" : "no route")))")
        }
        let memory = series("memory_usage")
        html += SVGChart(lines: [
            .init(name: "mean", color: colors[3], points: memory.map { ($0.span.end.microseconds, $0.mean) }),
            .init(name: "max", color: colors[2], points: memory.map { ($0.span.end.microseconds, $0.max) }),
        ], markers: marks, unit: " MB").render(title: "memory usage")
        html += "<table class=\"numbers\"><tr><th>series</th><th>window end</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>mean</th><th>max</th></tr>"
        for name in ["response_time", "db_query_time", "memory_usage"] {
            guard let w = series(name).last else { continue }
            html += "<tr data-series=\"\(name)\"><td>\(name)</td><td>\(Number.clock(w.span.end.microseconds))</td><td data-k=\"\(name)-count\">\(w.count)</td>"
            for (stat, value) in [("p50", w.p50), ("p95", w.p95), ("p99", w.p99), ("mean", w.mean), ("max", w.max)] {
                // The exact value rides along for checks and copying; the cell shows it short.
                html += "<td data-k=\"\(name)-\(stat)\" data-v=\"\(value)\">\(Number.short(value))</td>"
            }
            html += "</tr>"
        }
        return html + "</table>" + anomalyList(d, tenant: d.viewer)
    }

    static func anomalyList(_ d: DashboardData, tenant: String?) -> String {
        let list = d.snapshot.anomalies.filter { tenant == nil || $0.series.tenantID == tenant }.suffix(8).reversed()
        guard !list.isEmpty else { return "<p class=\"muted\">No anomalies.</p>" }
        var html = "<ul class=\"anomalies\">"
        for a in list {
            html += "<li data-anomaly><b>\(Number.clock(a.timestamp.microseconds))</b> \(escape(a.series.tenantID ?? "-")) · \(escape(a.reason)) <span class=\"score\">\(Number.trim(a.score, 2))</span></li>"
        }
        return html + "</ul>"
    }

    // MARK: Analytics

    static func analytics(_ d: DashboardData) -> String {
        let tenant = selectedTenant(d)
        let response = d.snapshot.windows.filter { $0.key.tenantID == tenant && $0.key.name == "response_time" }
        var byEnd: [Int64: (sum: Double, count: UInt64)] = [:]
        for w in response.values.joined() {
            let e = byEnd[w.span.end.microseconds] ?? (0, 0)
            byEnd[w.span.end.microseconds] = (e.sum + w.sum, e.count + w.count)
        }
        let mean = byEnd.keys.sorted().map { ($0, byEnd[$0]!.sum / Double(max(byEnd[$0]!.count, 1))) }
        var html = SVGChart(lines: [.init(name: "mean, all routes", color: colors[0], points: mean)],
                            markers: markers(d, tenant: tenant, names: ["response_time"]), unit: " ms").render(title: "response time (\(tenant ?? "-"))")
        // Every cache the viewer may see, named with its tenant.
        let caches = d.snapshot.caches.sorted { $0.key < $1.key }
        func label(_ key: SeriesKey) -> String { "\(key.tenantID ?? "-") \(key.name.isEmpty ? "cache" : key.name)" }
        let ratioLines = caches.enumerated().map { i, c in
            SVGChart.Line(name: label(c.key), color: colors[i % colors.count],
                          points: c.value.compactMap { w in w.hitRatio.map { (w.span.end.microseconds, $0 * 100) } })
        }
        html += SVGChart(lines: ratioLines, unit: "%", yRange: 0...100).render(title: "cache hit ratio")
        html += "<table class=\"numbers\"><tr><th>cache</th><th>window end</th><th>hits</th><th>misses</th><th>hit ratio</th><th>size</th></tr>"
        for (key, ws) in caches {
            guard let w = ws.last else { continue }
            let name = label(key)
            html += "<tr data-cache=\"\(escape(name))\"><td>\(escape(name))</td><td>\(Number.clock(w.span.end.microseconds))</td><td data-k=\"hits\">\(w.hits)</td><td data-k=\"misses\">\(w.misses)</td>"
            html += "<td data-k=\"hit-ratio\" data-v=\"\(w.hitRatio.map { String($0) } ?? "")\">\(Number.percent(w.hitRatio))</td><td>\(w.sizeKB) kB</td></tr>"
        }
        return html + "</table>"
    }

    // MARK: Sites

    static func sites(_ d: DashboardData) -> String {
        var html = "<table class=\"numbers sortable\"><thead><tr><th>site</th>"
        html += "<th class=\"sort\" onclick=\"sluice.sort(this, 1)\">visits ▾</th><th class=\"sort\" onclick=\"sluice.sort(this, 2)\">unique visitors</th>"
        html += "<th>last window</th><th>visits over time</th></tr></thead><tbody>"
        let rows = d.snapshot.visits.map { site, ws in (site, ws.last!) }.sorted { $0.1.visits != $1.1.visits ? $0.1.visits > $1.1.visits : $0.0 < $1.0 }
        for (site, last) in rows {
            let history = d.snapshot.visits[site]!.map { Double($0.visits) }
            html += "<tr data-site=\"\(escape(site))\"><td>\(escape(site.isEmpty ? "(platform)" : site))</td>"
            html += "<td data-k=\"visits\" data-v=\"\(last.visits)\">\(last.visits)</td><td data-k=\"unique\" data-v=\"\(last.uniqueVisitors)\">\(last.uniqueVisitors)</td>"
            html += "<td>\(Number.clock(last.span.start.microseconds))–\(Number.clock(last.span.end.microseconds))</td><td>\(SVGChart.sparkline(history))</td></tr>"
        }
        if rows.isEmpty { html += "<tr><td colspan=\"5\" class=\"muted\">no visits yet</td></tr>" }
        return html + "</tbody></table>"
    }

    // MARK: Tokens

    static func tokens(_ d: DashboardData) -> String {
        var html = "<table class=\"numbers\"><tr><th>tenant</th><th>model</th><th>requests</th><th>tokens</th><th>cost</th><th>budget</th></tr>"
        let byTenant = Dictionary(grouping: d.tokens.filter { $0.period == .month }, by: \.tenantID)
        for tenant in byTenant.keys.sorted() {
            let rows = byTenant[tenant]!.sorted { $0.model < $1.model }
            let budget = d.budgets[tenant]
            let usedTokens = rows.reduce(UInt64(0)) { $0 + $1.totalTokens }
            let usedMicro = rows.reduce(Int64(0)) { $0 + ($1.costMicroUSD ?? 0) }
            for (i, u) in rows.enumerated() {
                html += "<tr data-tenant=\"\(escape(tenant))\" data-model=\"\(escape(u.model))\"><td>\(i == 0 ? escape(tenant) : "")</td><td>\(escape(u.model))</td><td>\(u.requests)</td>"
                html += "<td data-k=\"tokens\" data-v=\"\(u.totalTokens)\">\(u.totalTokens)</td>"
                if let cost = u.costMicroUSD {
                    var json = JSONWriter()
                    json.decimal(micros: cost)
                    html += "<td data-k=\"cost\" data-v=\"\(String(decoding: json.bytes, as: UTF8.self))\">$\(Number.trim(Double(cost) / 1e6, 4))</td>"
                } else {
                    html += "<td data-k=\"cost\" class=\"warn\" title=\"no price configured for this model\">unpriced</td>"
                }
                if i == 0, let budget {
                    html += "<td rowspan=\"\(rows.count)\">"
                    if let limit = budget.monthlyTokens {
                        html += bar(used: Double(usedTokens), limit: Double(limit), thresholds: budget.thresholds, label: "\(usedTokens) / \(limit) tokens")
                    }
                    if let limit = budget.monthlyMicroUSD {
                        html += bar(used: Double(usedMicro), limit: Double(limit), thresholds: budget.thresholds,
                                    label: "$\(Number.trim(Double(usedMicro) / 1e6, 2)) / $\(Number.trim(Double(limit) / 1e6, 2))")
                    }
                    html += "</td>"
                } else if i == 0 {
                    html += "<td rowspan=\"\(rows.count)\" class=\"muted\">no budget</td>"
                }
                html += "</tr>"
            }
        }
        if byTenant.isEmpty { html += "<tr><td colspan=\"6\" class=\"muted\">no token usage this month</td></tr>" }
        html += "</table>"
        if !d.snapshot.alerts.isEmpty {
            html += "<ul class=\"alerts\">"
            for a in d.snapshot.alerts.suffix(5).reversed() {
                html += "<li>\(escape(a.tenantID)) passed \(Number.trim(a.threshold * 100, 0))% of its monthly budget (request \(escape(a.requestID)))</li>"
            }
            html += "</ul>"
        }
        return html
    }

    static func bar(used: Double, limit: Double, thresholds: [Double], label: String) -> String {
        let ratio = limit > 0 ? used / limit : 0
        var html = "<div class=\"bar\" data-k=\"budget-used\" data-v=\"\(Number.trim(ratio * 100, 1))\"><span style=\"width:\(Number.trim(min(ratio, 1) * 100, 1))%\" class=\"\(ratio >= 1 ? "over" : ratio >= (thresholds.dropLast().last ?? 0.8) ? "near" : "")\"></span>"
        for t in thresholds where t <= 1 { html += "<i style=\"left:\(Number.trim(t * 100, 1))%\" title=\"\(Number.trim(t * 100, 0))%\"></i>" }
        return html + "</div><small>\(label) · \(Number.trim(ratio * 100, 1))%</small>"
    }

    // MARK: Retention

    static func retention(_ d: DashboardData) -> String {
        var html = "<form class=\"retention\" onsubmit=\"return sluice.saveRetention(this)\"><table class=\"numbers\"><tr><th>type</th><th>max age</th></tr>"
        for type in Configuration.Retention.recordTypes {
            let age = d.retention.maxAge[type]?.humanDescription ?? ""
            html += "<tr><td>\(type)</td><td><input name=\"\(type)\" value=\"\(age)\" size=\"6\"\(d.viewer == nil ? "" : " disabled")></td></tr>"
        }
        html += "<tr><td>size cap</td><td><input name=\"max_bytes\" value=\"\(d.retention.maxBytes)\" size=\"12\"\(d.viewer == nil ? "" : " disabled")></td></tr></table>"
        for (tenant, ages) in d.retention.tenants.sorted(by: { $0.key < $1.key }) {
            html += "<p class=\"muted\">\(escape(tenant)): " + ages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.humanDescription)" }.joined(separator: ", ") + "</p>"
        }
        if d.viewer == nil { html += "<button type=\"submit\">Save policy</button> <span class=\"status\"></span>" }
        html += "</form>"
        if let stats = d.stats {
            html += "<table class=\"numbers\"><tr><th>type</th><th>tenant</th><th>records</th><th>bytes</th><th>since</th></tr>"
            for (key, row) in stats.rows.sorted(by: { $0.key < $1.key }) where d.viewer == nil || key.tenantID == d.viewer {
                html += "<tr data-held=\"\(key.type)|\(escape(key.tenantID ?? "-"))\"><td>\(key.type)</td><td>\(escape(key.tenantID ?? "-"))</td><td data-k=\"records\">\(row.records)</td>"
                html += "<td>\(Number.short(row.bytes))</td><td>\(RFC3339.format(Timestamp(microseconds: row.minTime)).prefix(10))</td></tr>"
            }
            html += "</table>"
        } else {
            html += "<p class=\"muted\">No data directory.</p>"
        }
        if let report = d.dryRun {
            // A tenant sees what the prune takes from its own data only.
            let (records, bytes) = d.viewer.map { report.removed(tenant: $0) } ?? (report.removedRecords, report.bytesBefore - report.bytesAfter)
            html += "<p data-k=\"next-prune\">Next prune would remove <b>\(records)</b> records (\(Number.short(Double(bytes))) bytes).</p>"
            if d.viewer == nil {
                if report.refusal != nil { html += "<p class=\"warn\" data-k=\"needs-confirmation\">That is more than half of the store: it runs only when confirmed.</p>" }
                html += "<button onclick=\"sluice.applyRetention(this)\">Apply now</button> <span class=\"status\"></span>"
            }
        }
        return html
    }
}
