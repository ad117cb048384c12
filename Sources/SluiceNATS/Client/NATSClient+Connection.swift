import Foundation
import NIOCore
import NIOPosix

extension NATSClient {
    /// Opens a connection, runs the handshake, and installs it: the request inbox and every
    /// subscription are (re)subscribed on it before anything else is written.
    func establish() async throws(NATSError) {
        let generation = state.withLock { state in
            state.generation += 1
            return state.generation
        }
        let loop = group.next()
        let ready = loop.makePromise(of: NATSServerInfo.self)
        let connect = connectJSON()
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NATSChannelHandler(
                        ready: ready, connect: { _ in connect },
                        deliver: { [self] in received($0, generation: generation) },
                        closed: { [self] in lost($0, generation: generation) }))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            ready.fail(NATSError.connection("cannot connect to \(endpoint.host):\(endpoint.port): \(error)"))
            throw .connection("cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        let timeout = configuration.connectTimeout
        let deadline = loop.scheduleTask(in: TimeAmount(timeout)) {
            ready.fail(NATSError.timeout("the handshake with \(self.endpoint.host):\(self.endpoint.port)", timeout))
            channel.close(promise: nil)
        }
        let info: NATSServerInfo
        do {
            info = try await ready.futureResult.get()
            deadline.cancel()
        } catch {
            deadline.cancel()
            try? await channel.close()
            throw (error as? NATSError) ?? .connection("\(error)")
        }
        let installed = state.withLock { state -> [CheckedContinuation<Result<Void, NATSError>, Never>]? in
            guard !state.closed, state.generation == generation else { return nil }
            if state.info != nil { state.reconnects += 1 }
            state.channel = channel
            state.info = info
            if state.inboxSID == 0 {
                state.inboxSID = state.nextSID
                state.nextSID += 1
            }
            write(.subscribe(subject: inbox + "*", queue: nil, sid: state.inboxSID), to: channel)
            for (sid, subscription) in state.subscriptions.sorted(by: { $0.key < $1.key }) {
                write(.subscribe(subject: subscription.subject, queue: subscription.queue, sid: sid), to: channel)
            }
            defer { state.connectionWaiters = [:] }
            return Array(state.connectionWaiters.values)
        }
        guard let waiters = installed else {
            try? await channel.close()
            throw .closed
        }
        // Those waiting for the connection may rely on the subscriptions being back: one
        // round trip makes sure the server has them.
        if !waiters.isEmpty { try? await flush() }
        for waiter in waiters { waiter.resume(returning: .success(())) }
    }

    /// The `CONNECT` line: no echo of `+OK`, headers and no-responders on.
    private func connectJSON() -> [UInt8] {
        var fields: [String: Any] = [
            "verbose": false, "pedantic": false, "tls_required": false, "name": configuration.name,
            "lang": "swift", "version": "1.0", "protocol": 1, "headers": true, "no_responders": true,
        ]
        if let user = endpoint.user { fields["user"] = user }
        if let password = endpoint.password { fields["pass"] = password }
        let json = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        var line: [UInt8] = []
        try? NATSCommand.connect(Array(json)).encode(into: &line)
        return line
    }

    /// An operation from the connection of `generation`, routed to its waiter or subscriber.
    func received(_ operation: NATSServerOperation, generation: Int) {
        switch operation {
        case .message(let message):
            enum Route {
                case request(CheckedContinuation<Result<NATSMessage, NATSError>, Never>)
                case subscriber(AsyncStream<NATSMessage>.Continuation)
            }
            let route = state.withLock { state -> Route? in
                guard state.generation == generation else { return nil }
                if message.sid == state.inboxSID {
                    guard message.subject.hasPrefix(inbox) else { return nil }
                    return state.requests.removeValue(forKey: String(message.subject.dropFirst(inbox.count))).map(Route.request)
                }
                return state.subscriptions[message.sid].map { .subscriber($0.continuation) }
            }
            switch route {
            case .request(let continuation): continuation.resume(returning: .success(message))
            case .subscriber(let continuation): continuation.yield(message)
            case nil: break
            }
        case .pong:
            let waiter = state.withLock { state in
                state.generation == generation && !state.pongs.isEmpty ? state.pongs.removeFirst().continuation : nil
            }
            waiter?.resume(returning: .success(()))
        case .info(let json):
            if let info = try? NATSServerInfo.decode(json) { state.withLock { $0.info = info } }
        case .error(let text):
            state.withLock { $0.lastError = .server(text) }
        case .ping, .ok:
            break
        }
    }

    /// The connection of `generation` is gone: its waiters fail, and a reconnect starts.
    func lost(_ error: NATSError, generation: Int) {
        let (requests, pongs) = state.withLock { state -> ([CheckedContinuation<Result<NATSMessage, NATSError>, Never>], [CheckedContinuation<Result<Void, NATSError>, Never>]) in
            guard state.generation == generation, state.channel != nil else { return ([], []) }
            state.channel = nil
            state.lastError = error
            defer {
                state.requests = [:]
                state.pongs = []
            }
            if !state.closed {
                state.reconnecting = Task { [self] in await reconnect() }
            }
            return (Array(state.requests.values), state.pongs.map(\.continuation))
        }
        for request in requests { request.resume(returning: .failure(error)) }
        for pong in pongs { pong.resume(returning: .failure(error)) }
    }

    /// Tries again with growing waits until a connection is up or the client is closed.
    private func reconnect() async {
        var wait = configuration.reconnectWait
        while !Task.isCancelled {
            try? await Task.sleep(for: wait)
            guard !state.withLock({ $0.closed }) else { return }
            do {
                try await establish()
                return
            } catch {
                if error.code == .closed { return }
                state.withLock { $0.lastError = error }
                wait = min(wait * 2, configuration.maximumReconnectWait)
            }
        }
    }
}
