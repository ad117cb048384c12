/// What went wrong talking to a NATS server, with a message that says what to do.
///
/// One error type for the module, in swift-service-lifecycle's shape: a code to switch on and
/// a message for people.
public struct NATSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Sendable, Hashable {
        /// The server sent bytes that are not the NATS protocol.
        case protocolViolation
        /// The server answered `-ERR`.
        case server
        /// No connection: it could not be made, or it closed.
        case connection
        /// Nobody answered a request in time.
        case timeout
        /// A request's subject has no subscriber (status 503).
        case noResponders
        /// JetStream refused an API call; `apiCode` holds its `err_code`.
        case jetStream
        /// The connection was closed by this side.
        case closed
    }

    public let code: Code
    public let message: String
    /// JetStream's `err_code` (for example 10071, wrong last sequence), when it gave one.
    public let apiCode: Int?

    public var description: String { message }

    init(_ code: Code, _ message: String, apiCode: Int? = nil) {
        self.code = code
        self.message = message
        self.apiCode = apiCode
    }

    static func protocolViolation(_ reason: String) -> NATSError {
        NATSError(.protocolViolation, "NATS protocol error: \(reason)")
    }
    static func server(_ text: String) -> NATSError { NATSError(.server, "the NATS server refused: \(text)") }
    static func connection(_ reason: String) -> NATSError { NATSError(.connection, "NATS connection: \(reason)") }
    static func timeout(_ what: String, _ after: Duration) -> NATSError {
        NATSError(.timeout, "no answer to \(what) within \(after)")
    }
    static func noResponders(_ subject: String) -> NATSError {
        NATSError(.noResponders, "nothing listens on \(subject) (is JetStream enabled on the server, `nats-server -js`?)")
    }
    static let closed = NATSError(.closed, "the NATS connection is closed")
}
