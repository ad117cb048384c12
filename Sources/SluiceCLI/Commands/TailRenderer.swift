import SluiceModel
import SluicePipeline

/// Renders a rolling snapshot as a text table: redrawn in place on a terminal, appended as a
/// plain block otherwise.
struct TailRenderer: Sendable {
    let interactive: Bool
    let limit: Int

    func render(_ snapshot: RollingSnapshot) -> String {
        var out = interactive ? "\u{1B}[H\u{1B}[2J" : ""
        guard let end = snapshot.end else {
            return out + "sluice tail: waiting for records\n" + (interactive ? "" : "\n")
        }
        out += "sluice tail — event time \(end) — \(snapshot.records) records"
        if snapshot.tooOld > 0, let longest = snapshot.horizons.last {
            out += ", \(snapshot.tooOld) older than \(longest.length.humanDescription) not shown"
        }
        out += "\n\n"

        // Series rows, busiest over the longest span first.
        let longest = snapshot.horizons.last!
        let seriesOrder = longest.pane.metrics.sorted { l, r in
            l.value.count != r.value.count ? l.value.count > r.value.count : snapshot.registry.keys[Int(l.key)] < snapshot.registry.keys[Int(r.key)]
        }.prefix(limit)
        if !seriesOrder.isEmpty {
            out += row(["SERIES", "WINDOW", "COUNT", "RATE/S", "MEAN", "P95", "P99"], widths: [40, 6, 9, 9, 11, 11, 11])
            for (id, _) in seriesOrder {
                let key = snapshot.registry.keys[Int(id)]
                for (i, horizon) in snapshot.horizons.enumerated() {
                    let name = i == 0 ? Self.describe(key) : ""
                    guard let acc = horizon.pane.metrics[id] else {
                        out += row([name, horizon.length.humanDescription, "0", "0", "-", "-", "-"], widths: [40, 6, 9, 9, 11, 11, 11])
                        continue
                    }
                    let summary = acc.summary(span: WindowSpan(length: horizon.length, start: end - horizon.length), series: key)
                    let rate = Double(summary.count) / (Double(horizon.length.microseconds) / 1e6)
                    out += row([name, horizon.length.humanDescription, "\(summary.count)", Self.number(rate),
                                Self.number(summary.mean), Self.number(summary.p95), Self.number(summary.p99)],
                               widths: [40, 6, 9, 9, 11, 11, 11])
                }
            }
            if longest.pane.metrics.count > limit { out += "… \(longest.pane.metrics.count - limit) more series\n" }
            out += "\n"
        }
        let caches = longest.pane.caches.keys.sorted { $0.seriesKey < $1.seriesKey }.prefix(limit)
        if !caches.isEmpty {
            out += row(["CACHE", "WINDOW", "HITS", "MISSES", "HIT RATIO"], widths: [40, 6, 11, 11, 9])
            for key in caches {
                for (i, horizon) in snapshot.horizons.enumerated() {
                    let acc = horizon.pane.caches[key] ?? CacheAccumulator()
                    let ratio = acc.summary(span: WindowSpan(length: horizon.length, start: end), key: key).hitRatio
                    out += row([i == 0 ? Self.describe(key.seriesKey) : "", horizon.length.humanDescription, "\(acc.hits)", "\(acc.misses)",
                                ratio.map { Self.number($0 * 100) + "%" } ?? "-"], widths: [40, 6, 11, 11, 9])
                }
            }
            out += "\n"
        }
        let sites = longest.pane.visits.keys.sorted { TenantOrder.less($0, $1) }.prefix(limit)
        if !sites.isEmpty {
            out += row(["SITE", "WINDOW", "VISITS", "UNIQUE"], widths: [40, 6, 11, 11])
            for site in sites {
                for (i, horizon) in snapshot.horizons.enumerated() {
                    let acc = horizon.pane.visits[site] ?? VisitAccumulator()
                    out += row([i == 0 ? (site ?? "(platform)") : "", horizon.length.humanDescription, "\(acc.visits)", "\(acc.visitors.estimate)"],
                               widths: [40, 6, 11, 11])
                }
            }
            out += "\n"
        }
        if let lateness = snapshot.lateness {
            out += "late: \(snapshot.late) records more than \(lateness.humanDescription) behind the newest record, not counted\n"
            if !interactive { out += "\n" }
        }
        return out
    }

    static func describe(_ key: SeriesKey) -> String {
        var s = key.tenantID.map { "\($0) " } ?? ""
        s += key.name
        if !key.labels.isEmpty { s += "{" + key.labels.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}" }
        return s
    }

    /// Compact numbers: four significant digits, no exponent below a trillion.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let magnitude = abs(value)
        if magnitude >= 1e12 { return "\(value)" }
        if magnitude >= 1000 || value == value.rounded() { return "\(Int64(value.rounded()))" }
        let decimals = magnitude >= 100 ? 1 : magnitude >= 10 ? 2 : 3
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return rounded == rounded.rounded() ? "\(Int64(rounded))" : "\(rounded)"
    }

    private func row(_ cells: [String], widths: [Int]) -> String {
        var line = ""
        for (i, cell) in cells.enumerated() {
            let width = widths[i]
            let text = cell.count > width ? String(cell.prefix(width - 1)) + "…" : cell
            let pad = String(repeating: " ", count: max(0, width - text.count))
            line += i == 0 ? text + pad : " " + pad + text
        }
        return line + "\n"
    }
}
