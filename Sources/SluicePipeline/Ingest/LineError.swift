import SluiceModel

/// A rejected input line: where it was and why.
public struct LineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file it came from (`replay`), `nil` for stdin and sockets.
    public var source: String?
    public var line: Int
    public var error: DecodeError

    public init(source: String?, line: Int, error: DecodeError) {
        self.source = source
        self.line = line
        self.error = error
    }

    /// `line 12: missing field "value"`, prefixed with the file name when there is one.
    public var description: String {
        if let source { return "\(source): line \(line): \(error.message)" }
        return "line \(line): \(error.message)"
    }
}
