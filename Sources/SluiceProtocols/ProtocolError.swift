/// Why a whole message was refused: it could not be read at all (bad gzip, snappy or protobuf,
/// JSON that does not parse). Answered `400` with this message; nothing in it is taken.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
