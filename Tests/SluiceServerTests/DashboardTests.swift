import Foundation
import Testing
import SluiceModel
@testable import SluiceServer

@Suite("Dashboard")
struct DashboardTests {
    static func window(_ i: Int, tenant: String = "t", name: String = "response_time", p99: Double = 120) -> WindowSummary {
        WindowSummary(span: WindowSpan(length: .minutes(1), start: Timestamp(seconds: 1_795_514_400 + Int64(i) * 60)),
                      series: SeriesKey(tenantID: tenant, name: name, labels: ["route": "/a"]),
                      count: 10, sum: 1_000, min: 50, max: p99, p50: 100, p90: 110, p95: 115, p99: p99)
    }

    @Test("the sink keeps only the last N windows of each series, and a tenant sees only itself")
    func bounded() async throws {
        let sink = DashboardSink(windowsPerSeries: 5, maximumAnomalies: 3)
        for i in 0..<100 {
            try await sink.write([.window(Self.window(i)), .window(Self.window(i, tenant: "u"))])
        }
        #expect(sink.heldWindows == 10)
        let mine = sink.snapshot(tenant: "t")
        #expect(mine.windows.keys.allSatisfy { $0.tenantID == "t" })
        #expect(mine.windows.values.first?.map(\.span.start) == (95..<100).map { Self.window($0).span.start })
        for i in 0..<10 {
            try await sink.write([.anomaly(Anomaly(timestamp: Timestamp(seconds: Int64(i)), series: SeriesKey(tenantID: "t", name: "m"), statistic: "p99",
                                                   value: 1, expected: 0, score: 1, reason: "r\(i)"))])
        }
        #expect(sink.snapshot(tenant: nil).anomalies.map(\.reason) == ["r7", "r8", "r9"])
    }

    @Test("the performance widget merges every route's sketch by default; the sink keeps sketches of the newest windows only")
    func allRoutes() async throws {
        let sink = DashboardSink(windowsPerSeries: 10)
        var random = SeededRandom(seed: 4)
        var raw: [Int: [Double]] = [:]
        for minute in 0..<5 {
            var batch: [OutputRecord] = []
            for (route, scale) in [("/a", 3.0), ("/b", 5.0), ("/c", 6.5)] {
                var sketch = DDSketch(), sum = ExactSum()
                for _ in 0..<(route == "/a" ? 500 : 50) {
                    let v = exp(random.gaussian() * 0.3 + scale)
                    sketch.add(v); sum.add(v)
                    raw[minute, default: []].append(v)
                }
                batch.append(.window(WindowSummary(span: Self.window(minute).span, series: SeriesKey(tenantID: "t", name: "response_time", labels: ["route": route]),
                                                   sketch: sketch, sum: sum)))
            }
            try await sink.write(batch)
        }
        let merged = try #require(sink.snapshot(tenant: "t").allRoutes.values.first)
        #expect(merged.count == 5)
        for (minute, w) in merged.enumerated() {
            let values = raw[minute]!.sorted()
            let exact = values[Int((0.99 * Double(values.count)).rounded(.up)) - 1]
            #expect(w.count == 600)
            // The busiest route alone would answer about e^3.7, far below the other routes' tail.
            #expect(abs(w.p99 - exact) <= 0.01 * exact, "minute \(minute): \(w.p99) vs \(exact)")
        }
        #expect(merged.dropLast(DashboardSink.sketchedWindows).allSatisfy { $0.sketch == nil })
        #expect(merged.suffix(DashboardSink.sketchedWindows).allSatisfy { $0.sketch != nil })
        let data = DashboardData(snapshot: sink.snapshot(tenant: nil), tokens: [], budgets: [:], retention: .init(), stats: nil, dryRun: nil,
                                 viewer: nil, tenant: "t", route: nil, query: "")
        let html = DashboardWidget.performanceDashboard.render(data)
        #expect(html.contains("response time (all routes)"))
        #expect(DashboardWidget.allCases.map(\.title) == ["PerformanceDashboard", "AnalyticsCharts", "MultiSiteAggregator", "TokenUsageMonitor", "RetentionPolicyManager"])
        #expect(html.contains("<option value=\"\" selected>all routes</option>"))
    }

    @Test("a chart is inline SVG with one line per statistic, round ticks in its unit, a legend with min/max/mean/last and anomaly markers")
    func chart() {
        let chart = SVGChart(lines: [
            .init(name: "p50", color: "#111", points: [(0, 1), (60_000_000, 2)]),
            .init(name: "p99", color: "#222", points: [(0, 5), (60_000_000, 332)]),
        ], markers: [(30_000_000, "p99 spike <b>")], unit: .milliseconds)
        let svg = chart.render(title: "response time")
        #expect(svg.hasPrefix("<figure class=\"chart\" data-points=\"4\">"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        // The y axis: 0, 100, 200, 300, 400 ms, not fractions of the largest value.
        let labels = svg.matches(of: /text-anchor="end">([^<]*)</).map { String($0.1) }
        #expect(labels == ["0 ms", "100 ms", "200 ms", "300 ms", "400 ms"])
        #expect(svg.contains("<td><i style=\"background:#222\"></i>p99</td><td>5 ms</td><td>332 ms</td><td>168.5 ms</td><td>332 ms</td>"))
        #expect(svg.contains("class=\"anomaly\""))
        let memory = SVGChart(lines: [.init(name: "max", color: "#111", points: [(0, 900)])], unit: .megabytes).render(title: "memory")
        #expect(memory.matches(of: /text-anchor="end">([^<]*)</).map { String($0.1) } == ["0 GB", "0.25 GB", "0.5 GB", "0.75 GB", "1 GB"],
                "900 MB rounds up to a 1 GB top tick, and the axis counts in GB")
        #expect(svg.contains("p99 spike &lt;b&gt;"), "labels are escaped")
        #expect(SVGChart(lines: []).render(title: "x").contains("No data in this time range"))
        // Drawn over a range: points outside it are left out, and the axis spans the range.
        let ranged = SVGChart(lines: [.init(name: "a", color: "#111", points: [(0, 1), (60_000_000, 2), (120_000_000, 3)])],
                              domain: 30_000_000...150_000_000).render(title: "a")
        #expect(ranged.contains("data-points=\"2\"") && ranged.contains("data-x0=\"30000\" data-x1=\"150000\""))
    }

    @Test("ticks are round numbers in 1, 2, 2.5 or 5 steps that cover the data", arguments: [0.7, 3.2, 83, 249, 332, 999, 1_234, 86_400, 10_737_418_240])
    func ticks(top: Double) throws {
        let ticks = Ticks.nice(lower: 0, upper: top)
        let step = ticks[1] - ticks[0]
        var magnitude = 1e-12
        while magnitude * 10 <= step * (1 + 1e-9) { magnitude *= 10 }
        let mantissa = step / magnitude
        #expect([1.0, 2, 2.5, 5].contains { abs($0 - mantissa) < 1e-9 }, "step \(step) for \(top)")
        #expect(ticks.first == 0 && ticks.last! >= top && ticks.last! - step < top, "\(ticks) covers \(top) tightly")
        #expect((3...6).contains(ticks.count), "\(ticks.count) ticks")
    }

    @Test("numbers carry units and thousands separators")
    func numbers() {
        #expect(Number.grouped(UInt64(1_234_567)) == "1,234,567")
        #expect(Number.grouped(Int64(-1_000)) == "-1,000")
        #expect(Number.grouped(276_718.0, significant: 4) == "276,718")
        #expect(Number.grouped(0.000125, significant: 3) == "0.000125")
        #expect(Number.bytes(10_737_418_240) == "10 GiB")
        #expect(Number.bytes(28_467) == "27.8 KiB")
        #expect(Number.bytes(512) == "512 B" && Number.bytes(48.84) == "49 B" && Number.bytes(2_093) == "2.04 KiB")
        #expect(ChartUnit.milliseconds.format(1_500) == "1.5 s")
        #expect(ChartUnit.tokens.format(2_500_000) == "2.5M tokens")
        #expect(DashboardWidget.sizeSpelling(10 << 30) == "10GiB" && DashboardWidget.sizeSpelling(1_000_001) == "1000001")
        // Time ticks fall on round clock times.
        let t0 = Int64(1_795_514_400) * 1_000_000 + 17_000_000
        let times = Ticks.times(from: t0, to: t0 + 3_600_000_000, most: 7)
        #expect(times.count >= 4 && times.allSatisfy { $0 % 600_000_000 == 0 })
    }

    @Test("a view's time range comes from the URL: relative, absolute or Unix milliseconds; a bad one is named and replaced")
    func range() {
        let now = Int64(1_795_514_400) * 1_000_000
        let relative = DashboardRange.resolve(from: "now-5m", to: "now", now: now)
        #expect(relative.from == now - 300_000_000 && relative.to == now && relative.problems.isEmpty && relative.isRelative)
        let absolute = DashboardRange.resolve(from: "2026-11-24T09:00:00Z", to: "1795514400000", now: 0)
        #expect(absolute.from == now - 3_600_000_000 && absolute.to == now && !absolute.isRelative)
        let fallback = DashboardRange.resolve(from: "yesterday", to: nil, now: now)
        #expect(fallback.fromText == "now-15m" && fallback.from == now - 900_000_000)
        #expect(fallback.problems == ["from=yesterday: expected an RFC 3339 time such as 2026-11-24T10:00:00Z, or Unix seconds from 0 to 253402300799"])
        let backwards = DashboardRange.resolve(from: "now", to: "now-1h", now: now)
        #expect(backwards.from == now - 900_000_000 && backwards.to == now && backwards.problems.count == 1)
        let huge = DashboardRange.resolve(from: "now-99999999d", to: nil, now: now)
        #expect(huge.problems.count == 1 && huge.from == now - 900_000_000, "a duration past the longest Sluice takes is refused, not overflowed")
    }

    @Test("a widget's CSV has its numbers as the JSON API writes them, one row per window, quoted where needed")
    func csv() async throws {
        let sink = DashboardSink()
        try await sink.write((0..<3).map { .window(Self.window($0, p99: 100 + Double($0) / 3)) })
        let now = Self.window(2).span.end.microseconds
        let data = DashboardData(snapshot: sink.snapshot(tenant: nil), tokens: [], budgets: [:], retention: .init(), stats: nil, dryRun: nil,
                                 viewer: nil, tenant: "t", route: nil, range: DashboardRange.resolve(from: "now-2m", to: "now", now: now), query: "")
        let table = DashboardWidget.performanceDashboard.table(data)
        #expect(table.rows.count == 2, "the window ending 3 minutes before now is out of range")
        #expect(table.rows.last?[0] == "2026-11-24T10:02:00Z" && table.rows.last?[7] == "100.66666666666667")
        #expect(WidgetTable(header: ["a", "b"], rows: [["x,y", "say \"hi\""]]).csv == "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n")
    }

    @Test("widgets show the numbers they are given")
    func widgets() async throws {
        let sink = DashboardSink()
        try await sink.write((0..<3).map { .window(Self.window($0, p99: 100 + Double($0))) })
        try await sink.write([.visitsWindow(VisitsWindowSummary(span: Self.window(0).span, tenantID: "site", visits: 42, uniqueVisitors: 17))])
        let data = DashboardData(snapshot: sink.snapshot(tenant: nil), tokens: [
            TokenUsageSummary(period: .month, start: Timestamp(seconds: 0), tenantID: "t", model: "m", requests: 1, promptTokens: 10, completionTokens: 5, cachedTokens: 0, costMicroUSD: nil),
            TokenUsageSummary(period: .month, start: Timestamp(seconds: 0), tenantID: "t", model: "big", requests: 3, promptTokens: 1_200_000, completionTokens: 34_567, cachedTokens: 0, costMicroUSD: 12_345_678),
        ], budgets: [:], retention: .init(), stats: nil, dryRun: nil, viewer: nil, tenant: "t", route: nil, query: "")
        let performance = DashboardWidget.performanceDashboard.render(data)
        #expect(performance.contains(#"data-k="response_time-p99" data-v="102.0">102</td>"#))
        #expect(performance.contains("<caption>The window ending 10:03 UTC</caption>"), "the table shows the newest window")
        let sites = DashboardWidget.multiSiteAggregator.render(data)
        #expect(sites.contains(#"data-k="visits" data-v="42""#) && sites.contains(#"data-k="unique" data-v="17""#))
        let tokens = DashboardWidget.tokenUsageMonitor.render(data)
        #expect(tokens.contains("unpriced"))
        #expect(tokens.contains(#"data-k="tokens" data-v="15""#))
        #expect(tokens.contains(#"data-v="1234567">1,234,567</td>"#), "token counts have thousands separators")
        #expect(tokens.contains(#"data-k="cost" data-v="12.345678">$12.35</td>"#))
        #expect(tokens.contains("Cost per model") && tokens.contains(#"data-cost-model="big""#))
    }

    @Test("under each budget bar, the next threshold the burn rate reaches, in words")
    func forecast() {
        let hour: Int64 = 3_600_000_000
        let from = Timestamp(microseconds: 1_795_514_400_000_000)
        func forecast(_ threshold: Double, _ kind: BudgetForecast.Kind, reached: Int64) -> BudgetForecast {
            BudgetForecast(timestamp: Timestamp(microseconds: from.microseconds + 24 * hour), tenantID: "t", start: Timestamp(seconds: 1_793_491_200), threshold: threshold, kind: kind,
                           limit: 1_000_000, used: 400_000, rateMicrosPerHour: 4_000 * 1_000_000, measuredFrom: from,
                           measuredTo: Timestamp(microseconds: from.microseconds + 24 * hour), reachedAt: Timestamp(microseconds: from.microseconds + reached), requestID: nil)
        }
        let forecasts = [forecast(1.0, .tokens, reached: 174 * hour), forecast(0.8, .tokens, reached: 124 * hour), forecast(0.5, .usd, reached: 30 * hour)]
        #expect(DashboardWidget.sentence(forecasts[1]) == "At the last 24 h rate (4,000 tokens/h), 80% of the token budget is reached on 29 Nov at 14:00 UTC.")
        let data = DashboardData(snapshot: .init(), tokens: [], budgets: ["t": .init(monthlyTokens: 1_000_000, monthlyMicroUSD: nil, thresholds: [0.5, 0.8, 1])],
                                 forecasts: forecasts, retention: .init(), stats: nil, dryRun: nil, viewer: nil, tenant: nil, route: nil, query: "")
        let html = DashboardWidget.tokenUsageMonitor.render(data)
        let shown = html.matches(of: /data-k="forecast">([^<]*)</).map { String($0.1) }
        #expect(shown == ["At the last 24 h rate (4,000 tokens/h), 80% of the token budget is reached on 29 Nov at 14:00 UTC."],
                "the token bar gets its next threshold only; there is no dollar budget to forecast")
    }
}
