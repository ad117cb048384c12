/// Why a configuration could not be loaded: the key (as a dotted path), where it is, and what
/// to write instead.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case unreadable, syntax, unknownKey, badValue
    }

    private let code: Code
    /// The dotted key path (`pipeline.lateness`), empty for the whole file.
    public let key: String
    public let message: String

    private init(_ code: Code, key: String, message: String) {
        self.code = code
        self.key = key
        self.message = message
    }

    public var description: String { key.isEmpty ? message : "\(key): \(message)" }

    public static func unreadable(_ path: String, _ reason: String) -> Self {
        .init(.unreadable, key: "", message: "cannot read configuration file \(path): \(reason)")
    }

    public static func syntax(_ reason: String) -> Self {
        .init(.syntax, key: "", message: "configuration is not valid YAML: \(reason)")
    }

    public static func unknownKey(_ key: String, known: [String], line: Int?) -> Self {
        .init(.unknownKey, key: key, message: "unknown key\(Self.at(line)); known keys here: \(known.sorted().joined(separator: ", "))")
    }

    public static func badValue(_ key: String, _ expected: String, got: String, line: Int?) -> Self {
        .init(.badValue, key: key, message: "expected \(expected), got \(got)\(Self.at(line))")
    }

    private static func at(_ line: Int?) -> String { line.map { " (line \($0))" } ?? "" }

    public var isUnknownKey: Bool { code == .unknownKey }
    public var isBadValue: Bool { code == .badValue }
}
