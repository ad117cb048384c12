import Foundation

/// The JetStream calls Sluice needs, over a `NATSClient`: streams, publishing with
/// deduplication and a `PubAck`, pull consumers with explicit acknowledgement (and, in
/// `KeyValue`, a KV bucket). Each call is a request to the server's `$JS.API` subjects with a
/// JSON body, as the JetStream wire API describes it.
public struct JetStream: Sendable {
    public let client: NATSClient
    /// How long an API call waits for its answer.
    public var timeout: Duration

    /// API calls wait `timeout`, by default the client's request timeout.
    public init(client: NATSClient, timeout: Duration? = nil) {
        self.client = client
        self.timeout = timeout ?? client.configuration.requestTimeout
    }

    /// What a stream holds and keeps.
    public struct StreamConfiguration: Sendable, Hashable {
        public var name: String
        public var subjects: [String]
        /// Messages with the same `Nats-Msg-Id` within this window are stored once.
        public var duplicateWindow: Duration = .seconds(120)
        /// Messages older than this are removed; `nil` keeps them.
        public var maximumAge: Duration?
        /// Per subject, how many messages are kept; `nil` is no limit.
        public var maximumMessagesPerSubject: Int?
        /// On disk (`true`) or in memory.
        public var file = true

        public init(name: String, subjects: [String]) {
            self.name = name
            self.subjects = subjects
        }

        var json: [String: Any] {
            var fields: [String: Any] = [
                "name": name, "subjects": subjects, "retention": "limits", "storage": file ? "file" : "memory",
                "discard": "old", "num_replicas": 1, "duplicate_window": duplicateWindow.nanoseconds,
            ]
            if let maximumAge { fields["max_age"] = maximumAge.nanoseconds }
            if let maximumMessagesPerSubject { fields["max_msgs_per_subject"] = maximumMessagesPerSubject }
            return fields
        }
    }

    /// A stream's size and sequence range.
    public struct StreamState: Sendable, Hashable, Decodable {
        public var messages: UInt64
        public var bytes: UInt64
        public var firstSequence: UInt64
        public var lastSequence: UInt64

        enum CodingKeys: String, CodingKey {
            case messages, bytes, firstSequence = "first_seq", lastSequence = "last_seq"
        }
    }

    struct StreamInfoResponse: Decodable {
        var state: StreamState
    }

    /// The server's acknowledgement of a stored message.
    public struct PublishAcknowledgement: Sendable, Hashable, Decodable {
        public var stream: String
        /// The message's sequence in the stream (for a duplicate, the first copy's).
        public var sequence: UInt64
        /// Whether a message with the same `Nats-Msg-Id` was already stored.
        public var duplicate: Bool

        enum CodingKeys: String, CodingKey { case stream, sequence = "seq", duplicate }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            stream = try c.decode(String.self, forKey: .stream)
            sequence = try c.decode(UInt64.self, forKey: .sequence)
            duplicate = try c.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false
        }
    }

    // MARK: Streams

    /// Creates the stream, or finds it already there with the same subjects. A stream of that
    /// name with other settings is left as it is, and its state returned.
    @discardableResult
    public func ensureStream(_ configuration: StreamConfiguration) async throws(NATSError) -> StreamState {
        do {
            let info: StreamInfoResponse = try await call("STREAM.CREATE.\(configuration.name)", configuration.json)
            return info.state
        } catch where error.apiCode == 10_058 {
            // "stream name already in use": the settings differ from the ones given.
            return try await streamState(configuration.name)
        }
    }

    /// The stream's state now.
    public func streamState(_ name: String) async throws(NATSError) -> StreamState {
        let info: StreamInfoResponse = try await call("STREAM.INFO.\(name)", nil)
        return info.state
    }

    /// Removes the stream and everything in it.
    public func deleteStream(_ name: String) async throws(NATSError) {
        struct Deleted: Decodable { var success: Bool }
        let _: Deleted = try await call("STREAM.DELETE.\(name)", nil)
    }

    // MARK: Publishing

    /// Stores a message and returns the server's acknowledgement. With a `messageID`, a second
    /// publish of the same id within the duplicate window is stored once (`duplicate` is set).
    /// With `expectedLastSubjectSequence`, the message is refused (error 10071) unless the
    /// subject's last message has that sequence, 0 meaning none.
    public func publish(_ subject: String, payload: [UInt8], messageID: String? = nil, expectedLastSubjectSequence: UInt64? = nil,
                        headers extra: NATSHeaders = NATSHeaders()) async throws(NATSError) -> PublishAcknowledgement {
        var headers = extra
        if let messageID { headers.append("Nats-Msg-Id", messageID) }
        if let expectedLastSubjectSequence { headers.append("Nats-Expected-Last-Subject-Sequence", String(expectedLastSubjectSequence)) }
        let reply = try await client.request(subject, payload: payload, headers: headers.fields.isEmpty ? nil : headers, timeout: timeout)
        return try Self.decode(reply, "a publish to \(subject)")
    }

    // MARK: The API

    /// One call: a request to `$JS.API.<name>` with `body` as JSON, its answer decoded, and
    /// an `error` answer thrown with its code.
    func call<Response: Decodable>(_ name: String, _ body: [String: Any]?) async throws(NATSError) -> Response {
        var payload: [UInt8] = []
        if let body {
            do { payload = Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) } catch {
                throw NATSError(.jetStream, "JetStream request \(name) cannot be written as JSON: \(error)")
            }
        }
        let reply = try await client.request("$JS.API.\(name)", payload: payload, timeout: timeout)
        return try Self.decode(reply, "JetStream \(name)")
    }

    /// Decodes an API answer; an `error` object in it is thrown.
    static func decode<Response: Decodable>(_ reply: NATSMessage, _ what: String) throws(NATSError) -> Response {
        let data = Data(reply.payload)
        if let failure = try? JSONDecoder().decode(APIFailure.self, from: data), let error = failure.error {
            throw NATSError(.jetStream, "\(what) failed: \(error.description ?? "error") (code \(error.code), err_code \(error.errorCode ?? 0))", apiCode: error.errorCode)
        }
        do { return try JSONDecoder().decode(Response.self, from: data) } catch {
            throw NATSError(.jetStream, "\(what) answered what JetStream does not send (\(error)): \(String(decoding: reply.payload.prefix(200), as: UTF8.self))")
        }
    }
}

extension Duration {
    /// Whole nanoseconds, as JetStream's JSON takes durations.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// The `error` object of a JetStream API answer.
struct APIFailure: Decodable {
    struct Detail: Decodable {
        var code: Int
        var errorCode: Int?
        var description: String?
        enum CodingKeys: String, CodingKey { case code, errorCode = "err_code", description }
    }
    var error: Detail?
}
