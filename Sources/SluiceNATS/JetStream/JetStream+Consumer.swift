import Foundation
import NIOCore

extension JetStream {
    /// A durable pull consumer with explicit acknowledgement.
    public struct ConsumerConfiguration: Sendable, Hashable {
        public var durableName: String
        /// Only messages on this subject (wildcards allowed); `nil` takes the whole stream.
        public var filterSubject: String?
        /// Where a new consumer starts: the stream's first message, or this sequence.
        public var startSequence: UInt64?
        /// A message not acknowledged within this is delivered again.
        public var acknowledgementWait: Duration = .seconds(30)
        /// How many delivered messages may wait for their acknowledgement at once.
        public var maximumAcknowledgementsPending = 20_000
        /// Acknowledging a message acknowledges every one before it (`ack_policy: all`), so a
        /// reader that takes messages in order acknowledges once per batch.
        public var acknowledgeAll = false

        public init(durableName: String, filterSubject: String? = nil, startSequence: UInt64? = nil) {
            self.durableName = durableName
            self.filterSubject = filterSubject
            self.startSequence = startSequence
        }

        func json(stream: String) -> [String: Any] {
            var config: [String: Any] = [
                "durable_name": durableName, "ack_policy": acknowledgeAll ? "all" : "explicit", "ack_wait": acknowledgementWait.nanoseconds,
                "max_ack_pending": maximumAcknowledgementsPending, "replay_policy": "instant",
            ]
            if let startSequence {
                config["deliver_policy"] = "by_start_sequence"
                config["opt_start_seq"] = startSequence
            } else {
                config["deliver_policy"] = "all"
            }
            if let filterSubject { config["filter_subject"] = filterSubject }
            return ["stream_name": stream, "config": config]
        }
    }

    /// Where a consumer stands.
    public struct ConsumerState: Sendable, Hashable, Decodable {
        /// Messages in its subjects not yet delivered.
        public var pending: UInt64
        /// Delivered and not yet acknowledged.
        public var acknowledgementsPending: UInt64
        /// The stream sequence below which everything is acknowledged.
        public var acknowledgedFloor: UInt64

        enum CodingKeys: String, CodingKey { case pending = "num_pending", acknowledgementsPending = "num_ack_pending", floor = "ack_floor" }
        struct Floor: Decodable { var stream_seq: UInt64 }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            pending = try c.decodeIfPresent(UInt64.self, forKey: .pending) ?? 0
            acknowledgementsPending = try c.decodeIfPresent(UInt64.self, forKey: .acknowledgementsPending) ?? 0
            acknowledgedFloor = try c.decodeIfPresent(Floor.self, forKey: .floor)?.stream_seq ?? 0
        }
    }

    /// Creates the durable consumer on `stream`, or finds it there.
    @discardableResult
    public func ensureConsumer(stream: String, _ configuration: ConsumerConfiguration) async throws(NATSError) -> ConsumerState {
        try await call("CONSUMER.DURABLE.CREATE.\(stream).\(configuration.durableName)", configuration.json(stream: stream))
    }

    /// The consumer's state now.
    public func consumerState(stream: String, consumer: String) async throws(NATSError) -> ConsumerState {
        try await call("CONSUMER.INFO.\(stream).\(consumer)", nil)
    }

    /// Removes the consumer.
    public func deleteConsumer(stream: String, consumer: String) async throws(NATSError) {
        struct Deleted: Decodable { var success: Bool }
        let _: Deleted = try await call("CONSUMER.DELETE.\(stream).\(consumer)", nil)
    }

    /// Up to `batch` messages. The server holds the pull open until it has `batch` or `expires`
    /// passes; with `noWait` it sends what it has at once (none: an empty answer). Each must be
    /// acknowledged (`acknowledge`), or it is delivered again after the consumer's
    /// acknowledgement wait.
    public func fetch(stream: String, consumer: String, batch: Int, expires: Duration = .seconds(1),
                      noWait: Bool = false) async throws(NATSError) -> [JetStreamMessage] {
        precondition(batch > 0, "fetch needs a batch of at least one message")
        var random = SystemRandomNumberGenerator()
        let inbox = "_INBOX.fetch.\(String(random.next(), radix: 36))"
        let subscription = try await client.subscribe(inbox)
        defer { subscription.unsubscribe() }
        let request = Array((noWait ? "{\"batch\":\(batch),\"no_wait\":true}" : "{\"batch\":\(batch),\"expires\":\(expires.nanoseconds)}").utf8)
        try client.publish("$JS.API.CONSUMER.MSG.NEXT.\(stream).\(consumer)", payload: request, replyTo: inbox)
        // The server ends the pull with a 408 status at `expires`; this bounds the wait should
        // that status be lost with the connection, or never sent (nats-server 2.9 can leave a
        // partly filled pull without it). A reader that must not miss a message checks
        // `consumerSequence` for the gap a late delivery would leave.
        let backstop = client.group.next().scheduleTask(in: TimeAmount(expires + min(timeout, .seconds(1)))) { subscription.unsubscribe() }
        defer { backstop.cancel() }
        var messages: [JetStreamMessage] = []
        for await message in subscription {
            if let status = message.status {
                // 100: heartbeat; 404 no messages, 408 the pull expired, 409 the consumer changed.
                if status == 100 { continue }
                if status == 404 || status == 408 { break }
                throw NATSError(.jetStream, "a fetch from \(stream)/\(consumer) ended with status \(status) \(message.headers?.statusDescription ?? "")")
            }
            messages.append(try JetStreamMessage(message, client: client))
            if messages.count == batch { break }
        }
        return messages
    }
}

/// A message a pull consumer delivered, with its place in the stream.
public struct JetStreamMessage: Sendable {
    public let message: NATSMessage
    /// Its sequence in the stream: the same however often it is delivered.
    public let streamSequence: UInt64
    /// How many times it has been delivered, this time included.
    public let deliveries: UInt64
    /// Its place among the consumer's deliveries, from 1: a gap means a delivery was lost
    /// on the way (a dropped connection, a pull given up on).
    public let consumerSequence: UInt64
    /// Messages left for the consumer after this one.
    public let pending: UInt64
    /// When the stream stored it, in nanoseconds since the epoch.
    public let published: Int64
    let client: NATSClient

    init(_ message: NATSMessage, client: NATSClient) throws(NATSError) {
        // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>,
        // or with a domain and account hash after $JS.ACK (NATS 2.9 and later, 12 tokens).
        guard let reply = message.replyTo else { throw NATSError(.jetStream, "a consumer delivered a message on \(message.subject) with no acknowledgement subject") }
        let tokens = reply.split(separator: ".", omittingEmptySubsequences: false)
        let base: Int
        switch tokens.count {
        case 9: base = 2
        case 11, 12: base = 4
        default: throw NATSError(.jetStream, "\(reply.debugDescription) is not a JetStream acknowledgement subject")
        }
        guard tokens[0] == "$JS", tokens[1] == "ACK", let deliveries = UInt64(tokens[base + 2]), let sequence = UInt64(tokens[base + 3]),
              let consumerSequence = UInt64(tokens[base + 4]), let published = Int64(tokens[base + 5]), let pending = UInt64(tokens[base + 6]) else {
            throw NATSError(.jetStream, "\(reply.debugDescription) is not a JetStream acknowledgement subject")
        }
        self.message = message
        self.streamSequence = sequence
        self.deliveries = deliveries
        self.pending = pending
        self.consumerSequence = consumerSequence
        self.published = published
        self.client = client
    }

    /// Acknowledges it; returns once the server has the acknowledgement.
    public func acknowledge() async throws(NATSError) {
        try client.publish(message.replyTo!, payload: Array("+ACK".utf8))
        try await client.flush()
    }

    /// Asks for it to be delivered again now.
    public func reject() throws(NATSError) {
        try client.publish(message.replyTo!, payload: Array("-NAK".utf8))
    }
}
