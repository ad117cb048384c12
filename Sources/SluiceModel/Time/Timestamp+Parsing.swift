/// Times and durations that come from outside (query parameters, flags, request bodies),
/// checked against the range every part of Sluice can represent and print.
extension Timestamp {
    /// 0000-01-01T00:00:00Z: the first instant RFC 3339 can write.
    public static let earliest = Timestamp(microseconds: -62_167_219_200_000_000)
    /// 9999-12-31T23:59:59.999999Z: the last instant RFC 3339 can write.
    public static let latest = Timestamp(microseconds: 253_402_300_799_999_999)

    /// Whether RFC 3339 can write this instant (years 0000 to 9999).
    public var isRepresentable: Bool { self >= Self.earliest && self <= Self.latest }

    /// Parses a time given by a person or a client: RFC 3339 with an offset, or Unix seconds
    /// (fractional allowed), between years 0000 and 9999. The error says what was wrong and
    /// what is expected, for `name` (a flag or parameter).
    public static func parseUserInput(_ text: String, name: String) -> Result<Timestamp, UserInputError> {
        switch RFC3339.parse(text) {
        case .success(let t): return .success(t)
        case .failure(.outOfRange(let field)):
            return .failure(UserInputError("\(Self.quote(name, text)): \(field) out of range"))
        case .failure:
            break
        }
        let allowed = "an RFC 3339 time such as 2026-11-24T10:00:00Z, or Unix seconds from 0 to 253402300799"
        guard let seconds = Double(text), seconds.isFinite else {
            return .failure(UserInputError("\(Self.quote(name, text)): expected \(allowed)"))
        }
        // Unix seconds from 1970 on, as records carry them: a negative number is a mistake
        // far more often than a time before 1970.
        guard seconds >= 0, seconds * 1e6 < Double(latest.microseconds) else {
            return .failure(UserInputError("\(Self.quote(name, text)): out of range; expected \(allowed)"))
        }
        return .success(Timestamp(microseconds: Int64((seconds * 1e6).rounded())))
    }
}

extension WindowDuration {
    /// The longest duration Sluice accepts anywhere: 100 years, far more than any window,
    /// retention age or interval needs, and small enough that adding it to any representable
    /// time cannot overflow.
    public static let longest = WindowDuration.days(36_525)

    /// Parses a duration given by a person or a client (`500ms`, `10s`, `1m`, `6h`, `30d`),
    /// at least `minimum` and at most `longest`.
    public static func parseUserInput(_ text: String, name: String, minimum: WindowDuration = WindowDuration(microseconds: 1)) -> Result<WindowDuration, UserInputError> {
        guard let d = WindowDuration(parsing: text) else {
            return .failure(UserInputError("\(Self.quote(name, text)): expected a duration such as 500ms, 10s, 1m, 6h or 30d"))
        }
        guard d >= minimum else {
            return .failure(UserInputError("\(Self.quote(name, text)): must be at least \(minimum.humanDescription)"))
        }
        guard d <= longest else {
            return .failure(UserInputError("\(Self.quote(name, text)): must be at most \(longest.humanDescription)"))
        }
        return .success(d)
    }
}

extension Timestamp {
    /// `--from 1e15` for a flag, `from=1e15` for a parameter: as the user wrote it.
    static func quote(_ name: String, _ text: String) -> String { name.hasPrefix("-") ? "\(name) \(text)" : "\(name)=\(text)" }
}

extension WindowDuration {
    static func quote(_ name: String, _ text: String) -> String { Timestamp.quote(name, text) }
}

/// A value from outside that Sluice refuses, with a message that names it and says what is
/// expected.
public struct UserInputError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
