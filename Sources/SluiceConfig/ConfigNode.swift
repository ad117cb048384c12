import SluiceModel
import Yams

/// A YAML node with the dotted path that leads to it, so every error names its key.
struct ConfigNode {
    let node: Node
    let path: String

    var line: Int? { node.mark?.line }

    func child(_ key: String, _ value: Node) -> ConfigNode {
        ConfigNode(node: value, path: path.isEmpty ? key : "\(path).\(key)")
    }

    func bad(_ expected: String) -> ConfigurationError {
        let shown: String
        switch node {
        case .scalar(let s): shown = "\"\(s.string)\""
        case .mapping: shown = "a mapping"
        case .sequence: shown = "a list"
        case .alias: shown = "an alias"
        }
        return .badValue(path, expected, got: shown, line: line)
    }

    var isNull: Bool {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) { return true }
        return false
    }

    /// The entries of a mapping whose keys must all be among `known`.
    func mapping(known: [String]) throws(ConfigurationError) -> [(String, ConfigNode)] {
        let entries = try anyMapping()
        for (key, value) in entries where !known.contains(key) {
            throw .unknownKey(child(key, value.node).path, known: known, line: value.line)
        }
        return entries
    }

    /// The entries of a mapping with free-form keys (tenant ids, model names).
    func anyMapping() throws(ConfigurationError) -> [(String, ConfigNode)] {
        if isNull { return [] }
        guard case .mapping(let m) = node else { throw bad("a mapping") }
        var out: [(String, ConfigNode)] = []
        for (k, v) in m {
            guard case .scalar(let key) = k else { throw bad("a mapping with string keys") }
            out.append((key.string, child(key.string, v)))
        }
        return out
    }

    func list() throws(ConfigurationError) -> [ConfigNode] {
        guard case .sequence(let s) = node else { throw bad("a list") }
        return s.enumerated().map { ConfigNode(node: $0.element, path: "\(path)[\($0.offset)]") }
    }

    func string() throws(ConfigurationError) -> String {
        guard case .scalar(let s) = node else { throw bad("a string") }
        return s.string
    }

    func duration() throws(ConfigurationError) -> WindowDuration {
        guard let d = WindowDuration(parsing: try string()) else {
            throw bad("a duration such as 500ms, 10s, 1m, 6h or 30d")
        }
        // Longer would overflow time arithmetic somewhere; no setting needs it.
        guard d <= WindowDuration.longest else { throw bad("a duration of at most \(WindowDuration.longest.humanDescription) (100 years)") }
        return d
    }

    func positiveDuration() throws(ConfigurationError) -> WindowDuration {
        let d = try duration()
        guard d.microseconds > 0 else { throw bad("a duration above zero") }
        return d
    }

    /// A duration from `minimum` to `WindowDuration.longest` (100 years).
    func duration(atLeast minimum: WindowDuration) throws(ConfigurationError) -> WindowDuration {
        let text = try string()
        guard case .success(let d) = WindowDuration.parseUserInput(text, name: path, minimum: minimum) else {
            let lowest = minimum.microseconds <= 1 ? "above zero" : "of at least \(minimum.humanDescription)"
            throw bad("a duration \(lowest) and at most \(WindowDuration.longest.humanDescription) (100 years), such as 10s, 6h or 30d")
        }
        return d
    }

    func integer(atLeast minimum: Int) throws(ConfigurationError) -> Int {
        guard let n = Int(try string()), n >= minimum else { throw bad("an integer of at least \(minimum)") }
        return n
    }

    func unsigned() throws(ConfigurationError) -> UInt64 {
        guard let n = UInt64(try string()) else { throw bad("a non-negative integer") }
        return n
    }

    func double(in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard let d = Double(try string()), d.isFinite, range.contains(d) else {
            throw bad("a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return d
    }

    func bool() throws(ConfigurationError) -> Bool {
        switch try string() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw bad("true or false")
        }
    }

    /// A size such as `512KiB`, `50MiB`, `10GiB`, `1GB` or a plain number of bytes.
    func byteSize() throws(ConfigurationError) -> Int64 {
        let text = try string().trimmingCharacters(in: " ")
        guard let value = ByteSize.parse(text) else { throw bad("a size such as 512KiB, 50MiB or 10GiB") }
        return value
    }

    /// USD as a decimal (`2.5`), converted exactly to micro-dollars.
    func microUSD() throws(ConfigurationError) -> Int64 {
        guard let value = Decimal6.parse(try string()) else {
            throw bad("a non-negative amount in USD with at most 6 decimal places")
        }
        return value
    }
}

/// Byte sizes as configuration spells them.
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let n = Int64(text.dropLast(suffix.count).trimmingCharacters(in: " ")), n >= 0 else { return nil }
            let (v, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : v
        }
        guard let n = Int64(text), n >= 0 else { return nil }
        return n
    }
}

/// Non-negative decimals with up to six fraction digits, as exact millionths.
public enum Decimal6 {
    public static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
              let w = Int64(whole) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 6, f.allSatisfy(\.isASCIIDigit) else { return nil }
            fraction = Int64(f + String(repeating: "0", count: 6 - f.count))!
        }
        let (scaled, o1) = w.multipliedReportingOverflow(by: 1_000_000)
        let (total, o2) = scaled.addingReportingOverflow(fraction)
        return o1 || o2 ? nil : total
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String { String(self).trimmingCharacters(in: set) }
}
