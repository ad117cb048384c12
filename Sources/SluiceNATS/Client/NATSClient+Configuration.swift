extension NATSClient {
    /// Where to connect and how to behave when the connection drops.
    public struct Configuration: Sendable {
        /// `nats://[user:password@]host[:port]`, port 4222 by default.
        public var url: String
        /// The client name the server shows in its monitoring.
        public var name: String
        /// How long connecting, the handshake included, may take.
        public var connectTimeout: Duration = .seconds(5)
        /// How long a request waits for its answer unless told otherwise.
        public var requestTimeout: Duration = .seconds(5)
        /// The first wait before reconnecting; it doubles per failed attempt, up to
        /// `maximumReconnectWait`.
        public var reconnectWait: Duration = .milliseconds(50)
        public var maximumReconnectWait: Duration = .seconds(2)

        public init(url: String, name: String = "sluice") {
            self.url = url
            self.name = name
        }
    }

    /// The parts of a `nats://` URL.
    struct Endpoint: Sendable, Hashable {
        var host: String
        var port: Int
        var user: String?
        var password: String?

        init(host: String, port: Int, user: String?, password: String?) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
        }

        init(_ url: String) throws(NATSError) {
            var rest = Substring(url)
            if let scheme = rest.range(of: "://") {
                guard rest[..<scheme.lowerBound] == "nats" else {
                    throw NATSError(.connection, "\(url.debugDescription) is not a nats:// URL (TLS and websockets are not supported)")
                }
                rest = rest[scheme.upperBound...]
            }
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                if let colon = credentials.firstIndex(of: ":") {
                    user = String(credentials[..<colon])
                    password = String(credentials[credentials.index(after: colon)...])
                } else {
                    user = String(credentials)
                }
            }
            while rest.hasSuffix("/") { rest = rest.dropLast() }
            if let colon = rest.lastIndex(of: ":") {
                guard let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port) else {
                    throw NATSError(.connection, "\(url.debugDescription) has no valid port")
                }
                self.port = port
                rest = rest[..<colon]
            } else {
                port = 4_222
            }
            guard !rest.isEmpty else { throw NATSError(.connection, "\(url.debugDescription) names no host") }
            host = String(rest)
        }
    }
}
