@_exported import SluiceModel
import Logging
import ServiceLifecycle
import Synchronization

/// Reports records from a host application to `sluice serve` (design §11).
///
/// Records are queued in a bounded buffer and sent as NDJSON (gzip when it pays) in batches:
/// every `flushInterval`, and as soon as a whole batch is queued. A batch carries an
/// `Idempotency-Key`, and a failed send is retried with the same bytes and key (back-off with
/// jitter on 429, 5xx and connection errors; never on 400), so the server counts it once.
/// When Sluice is slow or down the buffer fills, and `bufferPolicy` decides: `.wait` suspends
/// producers until there is room, `.dropOldest` makes room by dropping the oldest queued
/// records and counts them.
///
/// The client is a swift-service-lifecycle `Service`: run it in the host's `ServiceGroup`. On
/// graceful shutdown it sends everything still held, retrying for up to `shutdownTimeout`.
///
/// ```swift
/// let sluice = SluiceClient(configuration: .init(url: "http://127.0.0.1:8080", tenant: "shop"))
/// let group = ServiceGroup(services: [app, sluice], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class SluiceClient: Service, Sendable {
    /// What `record` does when the buffer is full.
    public enum BufferPolicy: String, Sendable, CaseIterable {
        /// Suspend the producer until the flusher makes room: nothing is lost, and a host whose
        /// Sluice is down slows down with it.
        case wait
        /// Drop the oldest queued records to make room, and count them: the host never waits.
        case dropOldest = "drop-oldest"
    }

    public struct Configuration: Sendable {
        /// Where `sluice serve` listens.
        public var url: String
        /// A bearer token from the server's `auth.tokens`, if it has any.
        public var token: String?
        /// The tenant the recorders report as (`tenant_id`); `nil` reports platform-wide.
        public var tenant: String?
        /// The longest a record waits in the buffer before it is sent.
        public var flushInterval: Duration
        /// Records per request.
        public var batchSize: Int
        /// Records the buffer holds at most (requests in flight hold one batch more).
        public var bufferCapacity: Int
        public var bufferPolicy: BufferPolicy
        public var retry: RetryPolicy
        /// Compress request bodies of 1 KiB or more with gzip.
        public var gzip: Bool
        /// How long one request may take before it is abandoned and retried.
        public var requestTimeout: Duration
        /// How long a graceful shutdown keeps trying to send what is still held; what is left
        /// after it is counted as dropped.
        public var shutdownTimeout: Duration

        public init(
            url: String = "http://127.0.0.1:8080", token: String? = nil, tenant: String? = nil,
            flushInterval: Duration = .seconds(1), batchSize: Int = 1000, bufferCapacity: Int = 10_000,
            bufferPolicy: BufferPolicy = .wait, retry: RetryPolicy = RetryPolicy(), gzip: Bool = true,
            requestTimeout: Duration = .seconds(10), shutdownTimeout: Duration = .seconds(30)
        ) {
            self.url = url
            self.token = token
            self.tenant = tenant
            self.flushInterval = flushInterval
            self.batchSize = batchSize
            self.bufferCapacity = bufferCapacity
            self.bufferPolicy = bufferPolicy
            self.retry = retry
            self.gzip = gzip
            self.requestTimeout = requestTimeout
            self.shutdownTimeout = shutdownTimeout
        }
    }

    /// What the client has done so far. `sent + rejected + dropped + pending` is every record
    /// offered to it.
    public struct Statistics: Sendable, Equatable {
        /// Records the server accepted.
        public var sent = 0
        /// Records the server refused for good (400 names them; other 4xx refuse the batch).
        public var rejected = 0
        /// Records dropped by `.dropOldest`, by cancelled producers, or left undelivered when
        /// shutdown gave up.
        public var dropped = 0
        /// Records queued or being sent.
        public var pending = 0
        /// Requests sent, retries included.
        public var requests = 0
        /// Requests that were tried again.
        public var retries = 0
    }

    public let configuration: Configuration
    private let transport: any SluiceTransport
    private let clock: ClientClock
    private let logger: Logger
    private let buffer: RecordBuffer
    private let state = Mutex(State())
    /// Distinguishes this process's keys from every other's: keys are `{instance}-{sequence}`.
    private let instance: String

    private struct State {
        var statistics = Statistics()
        var inFlight = 0
        var sequence: UInt64 = 0
        var reporters: [@Sendable (Timestamp) -> [Record]] = []
        var tickDue = false
        /// Set when graceful shutdown begins: retries stop at this elapsed time.
        var giveUpAt: Duration?
        var droppedReported = 0
    }

    /// - Parameters:
    ///   - transport: how requests are sent; by default `HTTPTransport` over async-http-client's
    ///     shared client.
    ///   - clock: drives the flush interval and the back-off (tests pass a manual clock).
    ///   - logger: where failures to deliver are reported. The client never bootstraps logging.
    public init<C: Clock>(
        configuration: Configuration, transport: (any SluiceTransport)? = nil, clock: C = ContinuousClock(),
        logger: Logger = Logger(label: "sluice.client")
    ) where C.Duration == Duration {
        precondition(configuration.batchSize >= 1 && configuration.bufferCapacity >= configuration.batchSize,
                     "the buffer must hold at least one batch")
        precondition(configuration.flushInterval > .zero, "the flush interval must be positive")
        self.configuration = configuration
        self.transport = transport ?? HTTPTransport(url: configuration.url, token: configuration.token, timeout: configuration.requestTimeout)
        self.clock = ClientClock(clock)
        self.logger = logger
        self.buffer = RecordBuffer(capacity: configuration.bufferCapacity, batchSize: configuration.batchSize, policy: configuration.bufferPolicy)
        var random = SystemRandomNumberGenerator()
        self.instance = String(random.next(), radix: 36) + String(random.next(), radix: 36)
    }

    // MARK: Recording

    /// Queues one record. Under `.wait` this suspends while the buffer is full.
    public func record(_ record: Record) async {
        await buffer.append([record])
    }

    /// Queues records in order. Under `.wait` this suspends while the buffer is full.
    public func record(_ records: [Record]) async {
        guard !records.isEmpty else { return }
        await buffer.append(records)
    }

    /// Queues records without ever suspending: when the buffer is full the oldest queued records
    /// are dropped (and counted), whatever the policy. For synchronous callers, such as
    /// swift-metrics handlers, that must not block a thread.
    public func recordNow(_ records: [Record]) {
        guard !records.isEmpty else { return }
        buffer.appendNow(records)
    }

    /// Adds a source of records that the client pulls before each timed flush (cache statistics,
    /// aggregated metrics). It is pulled only when the buffer has room for what it may return,
    /// so a reporter that keeps counting while Sluice is down loses nothing and grows nothing.
    public func addReporter(_ report: @escaping @Sendable (Timestamp) -> [Record]) {
        state.withLock { $0.reporters.append(report) }
    }

    public var statistics: Statistics {
        var s = state.withLock { $0.statistics }
        s.dropped = buffer.dropped
        s.pending = buffer.pending + state.withLock { $0.inFlight }
        return s
    }

    // MARK: Running

    /// Flushes on the interval and on full batches until graceful shutdown, then sends
    /// everything still held.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    // Cancelled when the flusher below has finished: the timer ends quietly, so
                    // that the group does not rethrow its CancellationError and skip the final send.
                    do { try await self.clock.sleep(self.configuration.flushInterval) } catch { return }
                    self.state.withLock { $0.tickDue = true }
                    self.buffer.poke()
                }
            }
            await withGracefulShutdownHandler {
                for await _ in buffer.wakeups {
                    let everything = state.withLock { s in defer { s.tickDue = false }; return s.tickDue }
                    await flush(everything: everything)
                }
            } onGracefulShutdown: {
                self.shutdown()
            }
            group.cancelAll()
        }
        // Graceful shutdown: what the reporters hold, then everything queued or waiting.
        if state.withLock({ $0.giveUpAt }) == nil {
            state.withLock { $0.giveUpAt = clock.elapsed() + configuration.shutdownTimeout }
        }
        let final = buffer.close() + pullReporters(force: true)
        await send(final)
        let statistics = statistics
        if statistics.dropped > 0 || statistics.rejected > 0 {
            logger.warning("sluice client stopped", metadata: [
                "sent": "\(statistics.sent)", "dropped": "\(statistics.dropped)", "rejected": "\(statistics.rejected)",
            ])
        }
    }

    /// Starts a graceful shutdown without a `ServiceGroup`: `run()` sends what is held and
    /// returns.
    public func shutdown() {
        state.withLock { s in if s.giveUpAt == nil { s.giveUpAt = clock.elapsed() + configuration.shutdownTimeout } }
        buffer.stopWakeups()
    }

    /// Sends whole batches, or everything queued when `everything` (a timed flush).
    private func flush(everything: Bool) async {
        if everything {
            let pulled = pullReporters(force: false)
            if !pulled.isEmpty { buffer.appendPulled(pulled) }
        }
        while true {
            let batch = buffer.takeBatch(wholeOnly: !everything)
            if batch.isEmpty { return }
            if await !deliver(batch) { return }
        }
    }

    /// Sends `records` in batches; gives up on what remains when shutdown's time runs out.
    private func send(_ records: [Record]) async {
        var start = records.startIndex
        while start < records.endIndex {
            let end = Swift.min(start + configuration.batchSize, records.endIndex)
            if await !deliver(Array(records[start..<end])) {
                buffer.countDropped(records.endIndex - end)
                return
            }
            start = end
        }
    }

    private func pullReporters(force: Bool) -> [Record] {
        let reporters = state.withLock { $0.reporters }
        let now = Timestamp.now()
        var out: [Record] = []
        for report in reporters {
            // A reporter returns at most a record per series it tracks: pulled only with room
            // for a batch, so it keeps counting (not queueing) while Sluice is away.
            guard force || buffer.hasRoom(for: configuration.batchSize) else { break }
            out += report(now)
        }
        // The client's own losses, so that they are visible where the host's data is.
        let dropped = buffer.dropped
        let newly = state.withLock { s in defer { s.droppedReported = dropped }; return dropped - s.droppedReported }
        if newly > 0 {
            out.append(.metric(MetricRecord(timestamp: now, tenantID: configuration.tenant, name: "sluice_client_dropped_records", value: Double(newly))))
        }
        return out
    }

    /// Sends one batch until it is delivered or refused. Returns false when it gave up (shutdown
    /// time ran out, or the task was cancelled), having counted the batch as dropped.
    private func deliver(_ batch: [Record]) async -> Bool {
        let request = encode(batch)
        state.withLock { $0.inFlight = batch.count }
        defer { state.withLock { $0.inFlight = 0 } }
        var attempt = 0
        while true {
            attempt += 1
            var retryAfter: Int?
            do {
                state.withLock { $0.statistics.requests += 1 }
                let response = try await transport.send(request)
                switch RetryPolicy.decide(status: response.status) {
                case .delivered:
                    state.withLock { $0.statistics.sent += batch.count }
                    return true
                case .reject:
                    let accepted = response.status == 400 ? Self.acceptedCount(response.body) ?? 0 : 0
                    state.withLock {
                        $0.statistics.sent += accepted
                        $0.statistics.rejected += batch.count - accepted
                    }
                    logger.error("sluice refused records", metadata: [
                        "status": "\(response.status)", "refused": "\(batch.count - accepted)", "answer": "\(response.body.prefix(500))",
                    ])
                    return true
                case .retry:
                    retryAfter = response.retryAfter
                    logger.debug("sluice is busy; retrying", metadata: ["status": "\(response.status)", "attempt": "\(attempt)"])
                }
            } catch {
                logger.debug("sending to sluice failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            }
            let delay = configuration.retry.delay(afterAttempt: attempt, unit: Double.random(in: 0..<1), retryAfter: retryAfter)
            let giveUpAt = state.withLock { $0.giveUpAt }
            if Task.isCancelled || giveUpAt.map({ clock.elapsed() + delay > $0 }) == true {
                buffer.countDropped(batch.count)
                logger.error("sluice unreachable; records dropped", metadata: ["records": "\(batch.count)", "attempts": "\(attempt)"])
                return false
            }
            state.withLock { $0.statistics.retries += 1 }
            do {
                try await clock.sleep(delay)
            } catch {
                buffer.countDropped(batch.count)
                return false
            }
        }
    }

    private func encode(_ batch: [Record]) -> SluiceRequest {
        var json = JSONWriter(capacity: batch.count * 160)
        for record in batch { record.write(to: &json) }
        let key = state.withLock { s -> String in s.sequence += 1; return "\(instance)-\(s.sequence)" }
        if configuration.gzip && json.bytes.count >= 1024, let compressed = Gzip.compress(json.bytes) {
            return SluiceRequest(body: compressed, isGzip: true, idempotencyKey: key, records: batch.count)
        }
        return SluiceRequest(body: json.bytes, isGzip: false, idempotencyKey: key, records: batch.count)
    }

    /// `accepted` from a `400` answer that took some of the records.
    static func acceptedCount(_ body: String) -> Int? {
        let utf8 = Array(body.utf8), key = Array("\"accepted\":".utf8)
        guard utf8.count >= key.count, let start = (0...(utf8.count - key.count)).first(where: { utf8[$0..<($0 + key.count)].elementsEqual(key) }) else {
            return nil
        }
        let digits = utf8[(start + key.count)...].drop { $0 == UInt8(ascii: " ") }.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        return Int(String(decoding: digits, as: UTF8.self))
    }
}

/// A clock as the client uses it: time since it started, and sleeps.
struct ClientClock: Sendable {
    let elapsed: @Sendable () -> Duration
    let sleep: @Sendable (Duration) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
        sleep = { try await clock.sleep(until: clock.now.advanced(by: $0), tolerance: nil) }
    }
}
