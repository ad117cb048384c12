import SluiceModel

/// Line charts and sparklines as inline SVG: the dashboard draws on the server, so the page
/// needs no script to show its numbers and no library at all.
struct SVGChart {
    struct Line {
        var name: String
        var color: String
        var points: [(x: Int64, y: Double)]
    }

    var width = 560.0
    var height = 170.0
    var lines: [Line]
    /// Anomalies: a red dot at their time, with their reason as a tooltip.
    var markers: [(x: Int64, label: String)] = []
    var unit = ""
    /// Fixed y range (ratios); otherwise 0 … 110% of the largest value.
    var yRange: ClosedRange<Double>?

    func render(title: String) -> String {
        let all = lines.flatMap(\.points)
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max() else {
            return "<figure class=\"chart empty\"><figcaption>\(escape(title))</figcaption><p class=\"muted\">no data yet</p></figure>"
        }
        let left = 46.0, right = 8.0, top = 10.0, bottom = 22.0
        let plotW = width - left - right, plotH = height - top - bottom
        let yMax = yRange?.upperBound ?? max(all.map(\.y).max() ?? 1, 1e-9) * 1.1
        let yMin = yRange?.lowerBound ?? min(0, all.map(\.y).min() ?? 0)
        let spanX = Double(max(maxX - minX, 1))
        func px(_ x: Int64) -> Double { left + (all.count == 1 ? plotW / 2 : Double(x - minX) / spanX * plotW) }
        func py(_ y: Double) -> Double { top + plotH - (y - yMin) / (yMax - yMin) * plotH }
        var svg = "<figure class=\"chart\"><figcaption>\(escape(title))</figcaption>"
        svg += "<svg viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        for i in 0...4 {
            let y = yMin + (yMax - yMin) * Double(i) / 4
            svg += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(py(y)))\" y2=\"\(f(py(y)))\"/>"
            svg += "<text class=\"axis\" x=\"\(f(left - 4))\" y=\"\(f(py(y) + 3))\" text-anchor=\"end\">\(Number.short(y))</text>"
        }
        svg += "<text class=\"axis\" x=\"\(f(left))\" y=\"\(f(height - 6))\">\(Number.clock(minX))</text>"
        svg += "<text class=\"axis\" x=\"\(f(width - right))\" y=\"\(f(height - 6))\" text-anchor=\"end\">\(Number.clock(maxX)) UTC</text>"
        for line in lines where !line.points.isEmpty {
            let path = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.8\" points=\"\(path)\"><title>\(escape(line.name))</title></polyline>"
            if line.points.count == 1 {
                svg += "<circle cx=\"\(f(px(line.points[0].x)))\" cy=\"\(f(py(line.points[0].y)))\" r=\"2.5\" fill=\"\(line.color)\"/>"
            }
        }
        for marker in markers where marker.x >= minX && marker.x <= maxX {
            svg += "<circle class=\"anomaly\" cx=\"\(f(px(marker.x)))\" cy=\"\(f(top + 4))\" r=\"4\"><title>\(escape(marker.label))</title></circle>"
        }
        svg += "</svg><div class=\"legend\">"
        for line in lines {
            let last = line.points.last.map { Number.short($0.y) + unit } ?? "–"
            svg += "<span><i style=\"background:\(line.color)\"></i>\(escape(line.name)) <b>\(last)</b></span>"
        }
        return svg + "</div></figure>"
    }

    /// A 100×24 sparkline of values.
    static func sparkline(_ values: [Double], color: String = "#2563eb") -> String {
        guard values.count > 1, let maxY = values.max() else { return "<svg class=\"spark\" viewBox=\"0 0 100 24\"></svg>" }
        let top = max(maxY, 1e-9)
        let points = values.enumerated().map { i, v in
            "\(f(Double(i) / Double(values.count - 1) * 98 + 1)),\(f(23 - v / top * 21))"
        }.joined(separator: " ")
        return "<svg class=\"spark\" viewBox=\"0 0 100 24\"><polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points)\"/></svg>"
    }

    private func f(_ v: Double) -> String { SVGChart.f(v) }
    static func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }
}

/// Numbers as the dashboard shows them.
enum Number {
    /// Four significant digits at most, thousands as k / M.
    static func short(_ v: Double) -> String {
        guard v.isFinite else { return "–" }
        let a = abs(v)
        if a >= 1e9 { return trim(v / 1e9, 2) + "G" }
        if a >= 1e6 { return trim(v / 1e6, 2) + "M" }
        if a >= 1e4 { return trim(v / 1e3, 1) + "k" }
        if a >= 100 { return trim(v, 0) }
        if a >= 10 { return trim(v, 1) }
        return trim(v, 2)
    }

    static func trim(_ v: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (v * scale).rounded() / scale
        return r == r.rounded() ? String(Int64(r)) : String(r)
    }

    static func clock(_ microseconds: Int64) -> String {
        let text = RFC3339.format(Timestamp(microseconds: microseconds))
        let start = text.index(text.startIndex, offsetBy: 11)
        return String(text[start..<text.index(start, offsetBy: 5)])
    }

    static func percent(_ ratio: Double?) -> String {
        guard let ratio else { return "–" }
        return trim(ratio * 100, 1) + "%"
    }
}

func escape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
