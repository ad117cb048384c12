/// A message as a subscriber receives it (`MSG` or `HMSG`).
public struct NATSMessage: Sendable, Hashable {
    public var subject: String
    /// Where an answer goes, when the sender asked for one.
    public var replyTo: String?
    /// Present when the message came with headers (`HMSG`), a status among them.
    public var headers: NATSHeaders?
    public var payload: [UInt8]
    /// The subscription it was delivered to.
    var sid: UInt64

    public init(subject: String, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: [UInt8]) {
        self.subject = subject
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
        self.sid = 0
    }

    init(subject: String, sid: UInt64, replyTo: String?, headers: NATSHeaders?, payload: [UInt8]) {
        self.subject = subject
        self.sid = sid
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// The status a server put in the headers (`NATS/1.0 503`), if any.
    public var status: Int? { headers?.status }
}

/// One operation a server sends.
public enum NATSServerOperation: Sendable, Hashable {
    /// `INFO {json}`: the server's description, as its JSON bytes.
    case info([UInt8])
    case message(NATSMessage)
    case ping
    case pong
    case ok
    /// `-ERR 'text'`.
    case error(String)
}
