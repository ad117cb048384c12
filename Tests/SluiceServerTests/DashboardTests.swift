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
        #expect(html.contains("<option value=\"\" selected>all routes</option>"))
    }

    @Test("a chart is inline SVG with one line per statistic, axes, a legend with the latest value and anomaly markers")
    func chart() {
        let chart = SVGChart(lines: [
            .init(name: "p50", color: "#111", points: [(0, 1), (60_000_000, 2)]),
            .init(name: "p99", color: "#222", points: [(0, 5), (60_000_000, 9.5)]),
        ], markers: [(30_000_000, "p99 spike <b>")], unit: " ms")
        let svg = chart.render(title: "response time")
        #expect(svg.hasPrefix("<figure class=\"chart\">"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("p99 <b>9.5 ms</b>"))
        #expect(svg.contains("class=\"anomaly\""))
        #expect(svg.contains("p99 spike &lt;b&gt;"), "labels are escaped")
        #expect(SVGChart(lines: []).render(title: "x").contains("no data yet"))
    }

    @Test("widgets show the numbers they are given")
    func widgets() async throws {
        let sink = DashboardSink()
        try await sink.write((0..<3).map { .window(Self.window($0, p99: 100 + Double($0))) })
        try await sink.write([.visitsWindow(VisitsWindowSummary(span: Self.window(0).span, tenantID: "site", visits: 42, uniqueVisitors: 17))])
        let data = DashboardData(snapshot: sink.snapshot(tenant: nil), tokens: [
            TokenUsageSummary(period: .month, start: Timestamp(seconds: 0), tenantID: "t", model: "m", requests: 1, promptTokens: 10, completionTokens: 5, cachedTokens: 0, costMicroUSD: nil),
        ], budgets: [:], retention: .init(), stats: nil, dryRun: nil, viewer: nil, tenant: "t", route: nil, query: "")
        let performance = DashboardWidget.performanceDashboard.render(data)
        #expect(performance.contains(#"data-k="response_time-p99" data-v="102.0">102</td>"#))
        let sites = DashboardWidget.multiSiteAggregator.render(data)
        #expect(sites.contains(#"data-k="visits" data-v="42""#) && sites.contains(#"data-k="unique" data-v="17""#))
        let tokens = DashboardWidget.tokenUsageMonitor.render(data)
        #expect(tokens.contains("unpriced"))
        #expect(tokens.contains(#"data-k="tokens" data-v="15""#))
    }
}
