/// A length of time as configuration and the command line spell it: a number and a unit
/// (`500ms`, `10s`, `1m`, `6h`, `30d`), kept in microseconds.
public struct WindowDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    @inlinable
    public init(microseconds: Int64) { self.microseconds = microseconds }

    public static func milliseconds(_ n: Int64) -> Self { Self(microseconds: n * 1_000) }
    public static func seconds(_ n: Int64) -> Self { Self(microseconds: n * 1_000_000) }
    public static func minutes(_ n: Int64) -> Self { .seconds(n * 60) }
    public static func hours(_ n: Int64) -> Self { .seconds(n * 3_600) }
    public static func days(_ n: Int64) -> Self { .seconds(n * 86_400) }

    public static let zero = Self(microseconds: 0)

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.microseconds < rhs.microseconds }

    /// Parses `500ms`, `10s`, `1m`, `6h`, `30d` (also `us`). Returns `nil` for anything else.
    public init?(parsing text: some StringProtocol) {
        let units: [(String, Int64)] = [
            ("ms", 1_000), ("us", 1), ("s", 1_000_000), ("m", 60_000_000),
            ("h", 3_600_000_000), ("d", 86_400_000_000),
        ]
        let trimmed = text.trimmingWhitespace()
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int64(number) else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: scale)
            guard !overflow else { return nil }
            self.init(microseconds: product)
            return
        }
        return nil
    }

    /// The label output records carry: whole seconds as `60s`, otherwise milliseconds (`500ms`)
    /// or microseconds. Design §3 shows `"window":"60s"`.
    public var description: String {
        if microseconds % 1_000_000 == 0 { return "\(microseconds / 1_000_000)s" }
        if microseconds % 1_000 == 0 { return "\(microseconds / 1_000)ms" }
        return "\(microseconds)us"
    }

    /// The way a person writes it, with the largest unit that divides it (`1m`, `6h`).
    public var humanDescription: String {
        for (suffix, scale) in [("d", Int64(86_400_000_000)), ("h", 3_600_000_000), ("m", 60_000_000)]
        where microseconds != 0 && microseconds % scale == 0 {
            return "\(microseconds / scale)\(suffix)"
        }
        return description
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace.
    public func trimmingWhitespace() -> Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { !$0.isWhitespace }),
              let last = s.lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return s[first...last]
    }
}
