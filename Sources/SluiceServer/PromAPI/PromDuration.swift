import SluiceModel

/// Prometheus durations in microseconds: `1y2w3d4h5m6s7ms` (each unit at most once, largest
/// first; a year is 365 days), as in queries and in the `step` parameter.
enum PromDuration {
    private static let units: [(String, Int64)] = [
        ("y", 365 * 86_400_000_000), ("w", 7 * 86_400_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000),
        ("ms", 1_000), ("m", 60_000_000), ("s", 1_000_000),
    ]
    /// The order units must come in.
    private static let order = ["y", "w", "d", "h", "m", "s", "ms"]

    /// The duration, or `nil` when the text is not one, or longer than any duration Sluice
    /// accepts (`WindowDuration.longest`).
    static func parse(_ text: String) -> Int64? {
        var rest = Substring(text)
        var total: Int64 = 0
        var lastUnit = -1
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 12, let n = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            let position = order.firstIndex(of: unit)!
            guard position > lastUnit else { return nil }
            lastUnit = position
            let (product, overflow) = n.multipliedReportingOverflow(by: scale)
            guard !overflow, product <= WindowDuration.longest.microseconds else { return nil }
            total += product
        }
        guard total <= WindowDuration.longest.microseconds else { return nil }
        return total
    }

    /// A `step`-style parameter: a duration, or a number of seconds (fractional allowed).
    static func parseParameter(_ text: String) -> Int64? {
        if let d = parse(text) { return d }
        guard let seconds = Double(text), seconds.isFinite, abs(seconds) * 1e6 <= Double(WindowDuration.longest.microseconds) else {
            return nil
        }
        return Int64((seconds * 1e6).rounded())
    }

    /// The way Prometheus prints a duration (`1h30m`, `500ms`).
    static func format(_ micros: Int64) -> String {
        guard micros != 0 else { return "0s" }
        var rest = micros.magnitude
        var out = micros < 0 ? "-" : ""
        for (unit, scale) in [("y", UInt64(365 * 86_400_000_000)), ("w", 7 * 86_400_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000),
                              ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000)] where rest >= scale {
            out += "\(rest / scale)\(unit)"
            rest %= scale
        }
        if rest > 0 { out += "\(rest)us" }
        return out
    }
}
