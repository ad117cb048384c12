import SluiceModel

/// The time range a dashboard view shows, as its URL gives it: `from` and `to`, each `now`,
/// `now-15m` (any duration Sluice accepts), an RFC 3339 time, or Unix milliseconds (what
/// Grafana's URLs carry). The default is the last 15 minutes.
///
/// `now` is the end of the newest window the dashboard holds, not the wall clock: Sluice
/// windows by event time, so a replayed day shows its own last hour, and a live feed's newest
/// window ends within a window length of the wall clock anyway.
struct DashboardRange: Sendable, Equatable {
    /// Microseconds. A window is shown when it ends after `from` and no later than `to`, that is
    /// when some of it falls inside.
    var from: Int64
    var to: Int64
    /// As written in the URL, for the picker to show.
    var fromText: String
    var toText: String
    /// Why a parameter was ignored, to show on the page.
    var problems: [String] = []

    static let defaultFrom = "now-15m"
    static let defaultTo = "now"

    /// The relative ranges the picker offers, as Grafana's quick ranges.
    static let quick: [(text: String, label: String)] = [
        ("now-5m", "Last 5 minutes"), ("now-15m", "Last 15 minutes"), ("now-1h", "Last 1 hour"),
        ("now-6h", "Last 6 hours"), ("now-24h", "Last 24 hours"), ("now-7d", "Last 7 days"),
    ]

    var isRelative: Bool { fromText.hasPrefix("now") && toText.hasPrefix("now") }

    func contains(_ microseconds: Int64) -> Bool { microseconds > from && microseconds <= to }

    /// Resolves `from` and `to` against `now`. A value that does not parse is named in
    /// `problems` and replaced by its default, so a mistyped URL still shows a page.
    static func resolve(from fromText: String?, to toText: String?, now: Int64) -> DashboardRange {
        var problems: [String] = []
        func resolve(_ text: String?, name: String, fallback: String) -> (Int64, String) {
            let text = text.flatMap { $0.isEmpty ? nil : $0 } ?? fallback
            switch point(text, now: now, name: name) {
            case .success(let t): return (t, text)
            case .failure(let error):
                problems.append(error.description)
                return (try! point(fallback, now: now, name: name).get(), fallback)
            }
        }
        var (from, f) = resolve(fromText, name: "from", fallback: defaultFrom)
        var (to, t) = resolve(toText, name: "to", fallback: defaultTo)
        if from >= to {
            problems.append("from=\(f) is not before to=\(t); showing the last 15 minutes")
            (from, f) = (try! point(defaultFrom, now: now, name: "from").get(), defaultFrom)
            (to, t) = (now, defaultTo)
        }
        return DashboardRange(from: from, to: to, fromText: f, toText: t, problems: problems)
    }

    static func point(_ text: String, now: Int64, name: String) -> Result<Int64, UserInputError> {
        if text == "now" { return .success(now) }
        if text.hasPrefix("now-") {
            return WindowDuration.parseUserInput(String(text.dropFirst(4)), name: name).map { now - $0.microseconds }
        }
        // Unix milliseconds: all digits and at least 11 of them (seconds would be 10 until 2286).
        if text.count >= 11, text.allSatisfy({ ("0"..."9").contains($0) }), let ms = Int64(text), ms < Timestamp.latest.microseconds / 1_000 {
            return .success(ms * 1_000)
        }
        return Timestamp.parseUserInput(text, name: name).map(\.microseconds)
    }
}
