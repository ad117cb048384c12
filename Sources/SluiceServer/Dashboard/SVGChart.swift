import SluiceModel

/// Line charts and sparklines as inline SVG: the dashboard draws on the server, so the page
/// needs no script to show its numbers and no library at all.
///
/// The x axis spans the view's time range (so every chart of a view lines up and follows the
/// range picker), with ticks on round clock times; the y axis has round-number ticks in the
/// chart's unit, scaled (ms → s, bytes → KiB/MiB/GiB). The legend gives each line's min, max,
/// mean and last value over the range; the page's script isolates a line when its legend row is
/// clicked, and zooms when the plot is dragged across (`data-x0`/`data-x1` carry the range).
struct SVGChart {
    struct Line {
        var name: String
        var color: String
        var points: [(x: Int64, y: Double)]
    }

    var width = 560.0
    var height = 180.0
    var lines: [Line]
    /// Anomalies: a red mark at their time, with their reason as a tooltip.
    var markers: [(x: Int64, label: String)] = []
    var unit = ChartUnit.plain
    /// Fixed y range (ratios); otherwise 0 … the round tick above the largest value.
    var yRange: ClosedRange<Double>?
    /// The time range drawn, in microseconds; the points' own span when nil.
    var domain: ClosedRange<Int64>?

    static let left = 58.0, right = 10.0, top = 10.0, bottom = 22.0

    func render(title: String) -> String {
        let all = lines.flatMap(\.points)
        let inDomain = domain.map { d in all.filter { d.contains($0.x) } } ?? all
        guard !inDomain.isEmpty, let minX = domain?.lowerBound ?? all.map(\.x).min(), let maxX = domain?.upperBound ?? all.map(\.x).max() else {
            return "<figure class=\"chart empty\" data-points=\"0\"><figcaption>\(escape(title))</figcaption><p class=\"muted\">No data in this time range.</p></figure>"
        }
        let (left, right, top, bottom) = (Self.left, Self.right, Self.top, Self.bottom)
        let plotW = width - left - right, plotH = height - top - bottom
        let values = inDomain.map(\.y)
        // The axis' scale suits its top tick (900 MB rounds up to a 1 GB tick), so every label
        // is short.
        func ticks(_ scale: (divisor: Double, suffix: String)) -> [Double] {
            yRange.map { r in Ticks.nice(lower: r.lowerBound, upper: r.upperBound) }
                ?? Ticks.nice(lower: min(0, (values.min() ?? 0) / scale.divisor), upper: max((values.max() ?? 0) / scale.divisor, 1e-9)).map { $0 * scale.divisor }
        }
        let first = ticks(unit.scale(for: max(abs(values.max() ?? 0), abs(values.min() ?? 0))))
        let scale = unit.scale(for: max(abs(first.first!), abs(first.last!)))
        let ticks = ticks(scale)
        let (yMin, yMax) = (ticks.first!, ticks.last!)
        let spanX = Double(max(maxX - minX, 1))
        func px(_ x: Int64) -> Double { left + (maxX == minX ? plotW / 2 : Double(x - minX) / spanX * plotW) }
        func py(_ y: Double) -> Double { top + plotH - (y - yMin) / max(yMax - yMin, 1e-12) * plotH }
        var svg = "<figure class=\"chart\" data-points=\"\(inDomain.count)\"><figcaption>\(escape(title))</figcaption>"
        svg += "<svg viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(escape(title))\" data-x0=\"\(minX / 1_000)\" data-x1=\"\(maxX / 1_000)\""
        svg += " data-left=\"\(f(left))\" data-right=\"\(f(width - right))\" data-width=\"\(f(width))\">"
        for y in ticks {
            svg += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(py(y)))\" y2=\"\(f(py(y)))\"/>"
            svg += "<text class=\"axis\" x=\"\(f(left - 4))\" y=\"\(f(py(y) + 3))\" text-anchor=\"end\">\(unit.label(y, scale: scale))</text>"
        }
        for t in Ticks.times(from: minX, to: maxX, most: 7) {
            let x = px(t)
            svg += "<line class=\"grid\" x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\"/>"
            svg += "<text class=\"axis\" x=\"\(f(x))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(Ticks.clock(t, span: maxX - minX))</text>"
        }
        svg += "<rect class=\"plot\" x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/>"
        for (i, line) in lines.enumerated() {
            let points = domain.map { d in line.points.filter { d.contains($0.x) } } ?? line.points
            guard !points.isEmpty else { continue }
            let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<g class=\"line\" data-line=\"\(i)\"><polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.8\" points=\"\(path)\"><title>\(escape(line.name))</title></polyline>"
            for p in points {
                svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.2\" fill=\"\(line.color)\"><title>\(escape(line.name)) \(Ticks.clock(p.x, span: 0)) UTC: \(unit.format(p.y))</title></circle>"
            }
            svg += "</g>"
        }
        for marker in markers where marker.x >= minX && marker.x <= maxX {
            let x = f(px(marker.x))
            svg += "<g class=\"anomaly\" data-reason=\"\(escape(marker.label))\"><line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(f(top))\" y2=\"\(f(top + plotH))\"/>"
            svg += "<circle cx=\"\(x)\" cy=\"\(f(top + 5))\" r=\"5\"/><title>\(escape(marker.label))</title></g>"
        }
        svg += "</svg><table class=\"legend\"><thead><tr><th></th><th>min</th><th>max</th><th>mean</th><th>last</th></tr></thead><tbody>"
        for (i, line) in lines.enumerated() {
            let ys = (domain.map { d in line.points.filter { d.contains($0.x) } } ?? line.points).map(\.y)
            let cells = ys.isEmpty ? Array(repeating: "–", count: 4)
                : [ys.min()!, ys.max()!, ys.reduce(0, +) / Double(ys.count), ys.last!].map { unit.format($0) }
            svg += "<tr data-line=\"\(i)\" onclick=\"sluice.isolate(this)\" title=\"click to show this line alone\"><td><i style=\"background:\(line.color)\"></i>\(escape(line.name))</td>"
            svg += cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }
        return svg + "</tbody></table></figure>"
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

/// What a chart's values measure, and how they are written: scaled to a readable unit, with
/// thousands separators.
enum ChartUnit: Sendable {
    case milliseconds
    /// Memory as the performance records carry it: megabytes.
    case megabytes
    case percent
    case tokens
    case bytes
    case plain

    /// The divisor and suffix for values up to `magnitude`.
    func scale(for magnitude: Double) -> (divisor: Double, suffix: String) {
        switch self {
        case .milliseconds: magnitude >= 1_000 ? (1_000, " s") : (1, " ms")
        case .megabytes: magnitude >= 1_000 ? (1_000, " GB") : (1, " MB")
        case .percent: (1, "%")
        case .tokens:
            magnitude >= 1e6 ? (1e6, "M tokens") : magnitude >= 1e4 ? (1e3, "k tokens") : (1, " tokens")
        case .bytes:
            magnitude >= 1_073_741_824 ? (1_073_741_824, " GiB") : magnitude >= 1_048_576 ? (1_048_576, " MiB")
                : magnitude >= 1_024 ? (1_024, " KiB") : (1, " B")
        case .plain:
            magnitude >= 1e9 ? (1e9, "G") : magnitude >= 1e6 ? (1e6, "M") : magnitude >= 1e4 ? (1e3, "k") : (1, "")
        }
    }

    /// An axis label: the tick in the axis' scale, with the unit's short suffix.
    func label(_ value: Double, scale: (divisor: Double, suffix: String)) -> String {
        let suffix = self == .tokens ? scale.suffix.replacingOccurrences(of: " tokens", with: "").replacingOccurrences(of: "tokens", with: "") : scale.suffix
        return Number.grouped(value / scale.divisor, significant: 3) + suffix
    }

    /// One value, in the scale that suits it; whole bytes below 1 KiB.
    func format(_ value: Double) -> String {
        let scale = scale(for: abs(value))
        if self == .bytes { return Number.grouped(value / scale.divisor, significant: scale.divisor == 1 ? 1 : 3) + scale.suffix }
        return Number.grouped(value / scale.divisor, significant: 4) + scale.suffix
    }
}

/// Round numbers for axes.
enum Ticks {
    /// Ticks at a 1, 2 or 5 × 10ⁿ step covering lower…upper, about five of them.
    static func nice(lower: Double, upper: Double, count: Int = 5) -> [Double] {
        let span = max(upper - lower, 1e-9)
        let raw = span / Double(count - 1)
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        let first = (lower / step).rounded(.down) * step
        var ticks: [Double] = []
        var v = first
        while v < upper - step * 1e-9 {
            ticks.append(v)
            v = first + step * Double(ticks.count)
        }
        ticks.append(v)
        return ticks.count >= 2 ? ticks : [first, first + step]
    }

    /// Round clock times in from…to, at the smallest round interval that gives at most `most`.
    static func times(from: Int64, to: Int64, most: Int) -> [Int64] {
        let second: Int64 = 1_000_000
        let steps: [Int64] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800].map { $0 * second }
        let span = max(to - from, 1)
        let step = steps.first { span / $0 < Int64(most) } ?? span
        var t = (from / step) * step
        if t < from { t += step }
        var out: [Int64] = []
        while t <= to {
            out.append(t)
            t += step
        }
        return out
    }

    /// HH:MM, HH:MM:SS under two minutes, MM-DD HH:MM over two days.
    static func clock(_ microseconds: Int64, span: Int64) -> String {
        let text = RFC3339.format(Timestamp(microseconds: microseconds))
        let chars = Array(text)
        let time = String(chars[11..<(span > 0 && span < 120_000_000 ? 19 : 16)])
        return span > 172_800_000_000 ? String(chars[5..<10]) + " " + time : time
    }
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

    /// `significant` digits at most (never fewer than the integer part), with thousands
    /// separators: 1,234,567 · 12.5 · 0.125.
    static func grouped(_ v: Double, significant: Int) -> String {
        guard v.isFinite else { return "–" }
        // Digits before the point; zero or negative for |v| < 1 (0.0012: -2).
        var digits = 1
        var a = abs(v)
        while a >= 10 { a /= 10; digits += 1 }
        if a < 1, a > 0 {
            digits = 0
            while a < 0.1 { a *= 10; digits -= 1 }
        }
        let decimals = max(0, significant - digits)
        let text = trim(v, decimals)
        let negative = text.hasPrefix("-")
        let body = negative ? String(text.dropFirst()) : text
        let parts = body.split(separator: ".", maxSplits: 1)
        return (negative ? "-" : "") + group(String(parts[0])) + (parts.count > 1 ? "." + parts[1] : "")
    }

    static func grouped<T: BinaryInteger>(_ v: T) -> String {
        v < 0 ? "-" + group(String(v.magnitude)) : group(String(v))
    }

    private static func group(_ digits: String) -> String {
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    /// Bytes in IEC units: 512 B, 27.8 KiB, 10 GiB.
    static func bytes(_ v: Double) -> String { ChartUnit.bytes.format(v) }

    static func trim(_ v: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (v * scale).rounded() / scale
        if r == r.rounded(), abs(r) < 9e15 { return String(Int64(r)) }
        // Fixed notation: `String(Double)` would write 1e-05.
        var whole = String(Int64(abs(r).rounded(.down)))
        var fraction = Int64(((abs(r) - abs(r).rounded(.down)) * scale).rounded())
        if fraction >= Int64(scale) { whole = String(Int64(whole)! + 1); fraction = 0 }
        var f = String(fraction)
        f = String(repeating: "0", count: max(0, decimals - f.count)) + f
        while f.hasSuffix("0") { f.removeLast() }
        return (r < 0 ? "-" : "") + whole + (f.isEmpty ? "" : "." + f)
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
