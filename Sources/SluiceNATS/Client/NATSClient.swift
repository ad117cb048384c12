import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A NATS client on SwiftNIO: publish (with headers), subscribe, request and reply, and
/// reconnection with back-off that restores every subscription.
///
/// Writes go out in the order they are made. A request's reply comes to one wildcard inbox
/// subscription (`_INBOX.<id>.*`), as the Go client's "new style" requests do.
public final class NATSClient: Sendable {
    public let configuration: Configuration
    let endpoint: Endpoint
    let group: any EventLoopGroup
    let state: Mutex<State>
    /// This client's request inbox; a request's reply subject is this plus a token.
    let inbox: String

    struct State {
        var channel: (any Channel)?
        var generation = 0
        var info: NATSServerInfo?
        var closed = false
        var nextSID: UInt64 = 1
        var subscriptions: [UInt64: Subscription] = [:]
        var inboxSID: UInt64 = 0
        var requests: [String: CheckedContinuation<Result<NATSMessage, NATSError>, Never>] = [:]
        var nextRequest: UInt64 = 0
        /// `PING`s waiting for their `PONG`, oldest first, with their tickets.
        var pongs: [(ticket: UInt64, continuation: CheckedContinuation<Result<Void, NATSError>, Never>)] = []
        /// Callers waiting for a connection, by ticket.
        var connectionWaiters: [UInt64: CheckedContinuation<Result<Void, NATSError>, Never>] = [:]
        var nextTicket: UInt64 = 0
        var reconnecting: Task<Void, Never>?
        /// Connections made after the first, for tests and monitoring.
        var reconnects = 0
        var lastError: NATSError?
    }

    struct Subscription {
        var subject: String
        var queue: String?
        var continuation: AsyncStream<NATSMessage>.Continuation
    }

    init(configuration: Configuration, group: any EventLoopGroup) throws(NATSError) {
        self.configuration = configuration
        self.endpoint = try Endpoint(configuration.url)
        self.group = group
        var random = SystemRandomNumberGenerator()
        self.inbox = "_INBOX.\(String(random.next(), radix: 36))\(String(random.next(), radix: 36))."
        self.state = Mutex(State())
    }

    /// Connects, runs the handshake, and returns the client; fails when the server cannot be
    /// reached or refuses within `connectTimeout`.
    public static func connect(_ configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws(NATSError) -> NATSClient {
        let client = try NATSClient(configuration: configuration, group: group)
        try await client.establish()
        return client
    }

    /// What the server said about itself on the last handshake.
    public var serverInfo: NATSServerInfo? { state.withLock { $0.info } }
    /// How many times the connection was made again after it dropped.
    public var reconnects: Int { state.withLock { $0.reconnects } }
    /// Whether a connection is up right now.
    public var isConnected: Bool { state.withLock { $0.channel != nil } }

    // MARK: Publishing and subscribing

    /// Sends a message; `headers` need a server of NATS 2.2 or later. Returns once it is
    /// written to the socket; `flush()` waits until the server has it.
    public func publish(_ subject: String, payload: [UInt8] = [], headers: NATSHeaders? = nil, replyTo: String? = nil) throws(NATSError) {
        try NATSCommand.check(subject: subject)
        if let replyTo { try NATSCommand.check(subject: replyTo, "reply subject") }
        var bytes: [UInt8] = []
        try NATSCommand.publish(subject: subject, replyTo: replyTo, headers: headers, payload: payload).encode(into: &bytes)
        try state.withLock { (state) throws(NATSError) in
            let channel = try state.usable(payload: payload.count, headers: headers != nil)
            channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
        }
    }

    /// Subscribes to `subject` (wildcards allowed), in `queue`'s group if given. Messages
    /// come in the returned sequence until it is unsubscribed or the client closes. The
    /// subscription is active on the server when this returns.
    public func subscribe(_ subject: String, queue: String? = nil) async throws(NATSError) -> NATSSubscription {
        try NATSCommand.check(subject: subject)
        if let queue { try NATSCommand.check(subject: queue, "queue group") }
        let (stream, continuation) = AsyncStream.makeStream(of: NATSMessage.self)
        let sid = try state.withLock { (state) throws(NATSError) -> UInt64 in
            guard !state.closed else { throw .closed }
            let sid = state.nextSID
            state.nextSID += 1
            state.subscriptions[sid] = Subscription(subject: subject, queue: queue, continuation: continuation)
            if let channel = state.channel { write(.subscribe(subject: subject, queue: queue, sid: sid), to: channel) }
            return sid
        }
        do {
            try await flush()
        } catch {
            // The caller never gets the subscription: it must not stay behind.
            unsubscribe(sid)
            throw error
        }
        return NATSSubscription(stream: stream, sid: sid, client: self)
    }

    /// Ends a subscription: its sequence finishes.
    func unsubscribe(_ sid: UInt64) {
        let removed = state.withLock { state -> Subscription? in
            guard let removed = state.subscriptions.removeValue(forKey: sid) else { return nil }
            if let channel = state.channel { write(.unsubscribe(sid: sid, after: nil), to: channel) }
            return removed
        }
        removed?.continuation.finish()
    }

    /// Sends `payload` to `subject` and waits for one reply. A reply with status 503 means
    /// nobody listens, and is thrown as `noResponders`.
    public func request(_ subject: String, payload: [UInt8] = [], headers: NATSHeaders? = nil, timeout: Duration? = nil) async throws(NATSError) -> NATSMessage {
        try NATSCommand.check(subject: subject)
        let timeout = timeout ?? configuration.requestTimeout
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<NATSMessage, NATSError>, Never>) in
            let failure = state.withLock { (state) -> NATSError? in
                do throws(NATSError) {
                    let channel = try state.usable(payload: payload.count, headers: headers != nil)
                    let token = String(state.nextRequest, radix: 36)
                    state.nextRequest += 1
                    var bytes: [UInt8] = []
                    try NATSCommand.publish(subject: subject, replyTo: inbox + token, headers: headers, payload: payload).encode(into: &bytes)
                    state.requests[token] = continuation
                    channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
                    channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                        let waiting = self.state.withLock { $0.requests.removeValue(forKey: token) }
                        waiting?.resume(returning: .failure(.timeout("a request on \(subject)", timeout)))
                    }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { continuation.resume(returning: .failure(failure)) }
        }
        let reply = try result.get()
        if reply.status == 503 { throw .noResponders(subject) }
        return reply
    }

    /// Waits until the server has processed everything written before (a `PING` answered).
    public func flush(timeout: Duration? = nil) async throws(NATSError) {
        let timeout = timeout ?? configuration.requestTimeout
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, NATSError>, Never>) in
            let failure = state.withLock { (state) -> NATSError? in
                guard let channel = state.channel else { return state.closed ? .closed : .connection("not connected (reconnecting to \(endpoint.host):\(endpoint.port))") }
                let ticket = state.nextTicket
                state.nextTicket += 1
                state.pongs.append((ticket, continuation))
                write(.ping, to: channel)
                channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                    // PONGs answer PINGs in order, so a missing one leaves the rest unmatched:
                    // the connection is dropped (and made again), after this waiter hears why.
                    let waiting = self.state.withLock { state in
                        state.pongs.firstIndex { $0.ticket == ticket }.map { state.pongs.remove(at: $0).continuation }
                    }
                    guard let waiting else { return }
                    waiting.resume(returning: .failure(.timeout("a PING to \(endpoint.host):\(endpoint.port)", timeout)))
                    channel.close(promise: nil)
                }
                return nil
            }
            if let failure { continuation.resume(returning: .failure(failure)) }
        }
        try result.get()
    }

    /// Returns once a connection is up: at once when it is, or when a reconnect succeeds.
    /// Fails after `timeout`, or when the client is closed.
    public func waitForConnection(timeout: Duration) async throws(NATSError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, NATSError>, Never>) in
            let now = state.withLock { (state) -> Result<Void, NATSError>? in
                if state.closed { return .failure(.closed) }
                if state.channel != nil { return .success(()) }
                let ticket = state.nextTicket
                state.nextTicket += 1
                state.connectionWaiters[ticket] = continuation
                group.next().scheduleTask(in: TimeAmount(timeout)) { [self] in
                    let waiting = self.state.withLock { $0.connectionWaiters.removeValue(forKey: ticket) }
                    waiting?.resume(returning: .failure(.timeout("a connection to \(endpoint.host):\(endpoint.port)", timeout)))
                }
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
        try result.get()
    }

    /// Closes the connection for good: subscriptions finish, and waiting calls fail.
    public func close() async {
        let (channel, subscriptions, requests, pongs, waiters, reconnecting) = state.withLock { state in
            state.closed = true
            defer {
                state.channel = nil
                state.subscriptions = [:]
                state.requests = [:]
                state.pongs = []
                state.connectionWaiters = [:]
                state.reconnecting = nil
            }
            return (state.channel, state.subscriptions, state.requests, state.pongs, state.connectionWaiters, state.reconnecting)
        }
        reconnecting?.cancel()
        for (_, subscription) in subscriptions { subscription.continuation.finish() }
        for (_, request) in requests { request.resume(returning: .failure(.closed)) }
        for pong in pongs { pong.continuation.resume(returning: .failure(.closed)) }
        for (_, waiter) in waiters { waiter.resume(returning: .failure(.closed)) }
        if let channel { try? await channel.close() }
    }

    func write(_ command: NATSCommand, to channel: any Channel) {
        var bytes: [UInt8] = []
        // Subjects were checked when the subscription was made.
        try? command.encode(into: &bytes)
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }
}

extension NATSClient.State {
    /// The channel, when a message of this size (with headers or not) may be sent on it.
    func usable(payload: Int, headers: Bool) throws(NATSError) -> any Channel {
        guard !closed else { throw .closed }
        guard let channel else { throw .connection("not connected (reconnecting)") }
        if let info {
            guard payload <= info.maximumPayload else {
                throw NATSError(.server, "a payload of \(payload) bytes is over the server's max_payload of \(info.maximumPayload)")
            }
            guard !headers || info.headers else { throw NATSError(.server, "the server (NATS \(info.version)) does not take headers") }
        }
        return channel
    }
}

/// The messages of one subscription, in the order the server sent them.
public struct NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    let stream: AsyncStream<NATSMessage>
    let sid: UInt64
    let client: NATSClient

    public func makeAsyncIterator() -> AsyncStream<NATSMessage>.AsyncIterator { stream.makeAsyncIterator() }

    /// Ends it: the sequence finishes after the messages already received.
    public func unsubscribe() { client.unsubscribe(sid) }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
