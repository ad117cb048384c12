/// Why an input line was refused: a reason code that is counted, and a message for a person.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The categories malformed lines are counted by (the keys of the summary's `errors_by_reason`).
    public enum Reason: String, Sendable, Hashable, CaseIterable, Comparable {
        case invalidJSON = "invalid_json"
        case invalidUTF8 = "invalid_utf8"
        case notAnObject = "not_an_object"
        case unknownType = "unknown_type"
        case missingField = "missing_field"
        case wrongType = "wrong_type"
        case nonFinite = "non_finite"
        case outOfRange = "out_of_range"
        case badTimestamp = "bad_timestamp"
        case missingTimestamp = "missing_timestamp"
        case badTenant = "bad_tenant"
        case tooManyLabels = "too_many_labels"
        case lineTooLong = "line_too_long"
        /// A line of a text protocol (Influx, StatsD) that breaks its grammar.
        case invalidSyntax = "invalid_syntax"
        /// A data point a protocol can carry but Sluice cannot take (an OTLP summary).
        case unsupported = "unsupported"

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }

    static func missing(_ field: String) -> Self { .init(.missingField, "missing field \"\(field)\"") }
    static func wrongType(_ field: String, _ expected: String) -> Self {
        .init(.wrongType, "field \"\(field)\" must be \(expected)")
    }
}
