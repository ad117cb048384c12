#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel

/// Where every source hands its bytes to the pipeline (design §8).
///
/// stdin, files, TCP connections, UDP datagrams and HTTP bodies all come through here, so the
/// rules live in one place: decoding (`IngestDecoder`), counters by type and by reason, the
/// token's tenant and refusal of a foreign one, the rate limit, and acknowledgements. Decoded
/// records go from here to the window aggregator, which passes them on to the store; a full
/// pipeline makes the source wait, which is the back-pressure that reaches the socket or the
/// reader.
public struct IngestEdge: Sendable {
    public struct Configuration: Sendable {
        public var decoder = NDJSONDecoder.Configuration()
        /// Stop a stream at its first bad line (`--strict`).
        public var strict = false
        /// Chunks of one stream decoded at once, on as many tasks (default: one per core).
        public var decodeWidth = IngestEdge.processorCount
        /// Records per second per tenant (a token bucket with one second's burst); 0 is no limit.
        public var recordsPerSecond = 0
        /// How long a message waits for room in a full pipeline before it is refused.
        public var enqueueTimeout: Duration = .seconds(2)
        /// Answer a message only once its records are durable (`store.fsync: always`).
        public var waitForDurability = false
        /// How long an `Idempotency-Key` is remembered (`server.idempotency_window`); `nil`
        /// ignores the header (the stream commands, which have no requests).
        public var idempotencyWindow: Duration?
        public init() {}
    }

    /// Whose records a source may send.
    public enum Tenancy: Sendable, Equatable {
        /// Any tenant (stdin, files, sockets, an admin token).
        case any
        /// This tenant only: a record without a tenant takes it, one naming another is refused.
        case tenant(String)
    }

    /// How a stream ended.
    public enum Outcome: Sendable, Equatable {
        case completed
        /// `--strict`: the first bad line stopped the stream.
        case stopped(LineError)
    }

    /// What a message came to: records taken, and the lines (or elements) refused and why.
    public struct Submission: Sendable {
        public var accepted: Int
        public var rejections: [LineError]
    }

    public let configuration: Configuration
    let pipeline: Pipeline
    /// Event time for records without a timestamp; `nil` makes it an error (replay).
    let ingestTime: (@Sendable () -> Timestamp)?
    let limiter: RateLimiter?
    /// Set when there is a store: while it cannot write, messages are refused.
    public let health: StoreHealth?
    let sleep: @Sendable (Duration) async throws -> Void
    /// Sees every batch of records taken (`tail`'s rolling windows).
    let tap: (@Sendable ([Record]) -> Void)?
    /// The `Idempotency-Key`s within the window, when the configuration has one.
    public let keys: IdempotencyKeys?
    /// In a cluster, where taken records go instead of this pipeline (design §12).
    public let forwarder: (any IngestForwarder)?

    public init<C: Clock>(
        configuration: Configuration, pipeline: Pipeline, health: StoreHealth? = nil, clock: C,
        ingestTime: (@Sendable () -> Timestamp)?, tap: (@Sendable ([Record]) -> Void)? = nil, forwarder: (any IngestForwarder)? = nil
    ) where C.Duration == Duration {
        self.tap = tap
        self.forwarder = forwarder
        self.configuration = configuration
        self.pipeline = pipeline
        self.health = health
        self.ingestTime = ingestTime
        limiter = configuration.recordsPerSecond > 0 ? RateLimiter(perSecond: configuration.recordsPerSecond, clock: clock) : nil
        sleep = { try await clock.sleep(for: $0) }
        keys = configuration.idempotencyWindow.map {
            IdempotencyKeys(window: $0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000)
        }
    }

    public var counters: PipelineCounters { pipeline.counters }

    /// Cores this process may run on.
    public static let processorCount: Int = Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// The event time of a record that carries none: the ingest clock (wall time for `serve`).
    public func now() -> Timestamp { ingestTime?() ?? Timestamp.now() }

    /// Reads a byte stream to its end (or, when strict, to its first bad line), reporting each
    /// bad line. Waits while the pipeline is full, so a full pipeline stops the reading.
    ///
    /// Chunks are cut into lines here, in order, and decoded on up to `decodeWidth` child tasks
    /// at once while the next chunks are read; the decoded batches go on in chunk order, so the
    /// aggregator sees exactly the sequence a one-task decoder would give it.
    public func stream<Chunks: AsyncSequence>(
        _ chunks: Chunks, source: String? = nil, report: @Sendable (LineError) -> Void
    ) async throws -> Outcome where Chunks.Element == [UInt8] {
        let decoder = configuration.decoder
        let strict = configuration.strict
        var splitter = LineSplitter(maximumLineBytes: decoder.maximumLineBytes)
        return try await withThrowingTaskGroup(of: DecodeOrder.Decoded.self) { group in
            var order = DecodeOrder(width: configuration.decodeWidth)
            var stopped: LineError?
            // Waits for one decode and forwards every batch that is now next in line.
            func settle() async throws {
                guard let decoded = try await group.next() else { return }
                for block in order.arrive(decoded) where stopped == nil {
                    try await forward(block.batch, report: report)
                    stopped = block.stopped
                }
            }
            func launch(_ block: LineBlock, now: Timestamp?) {
                let (sequence, intern) = order.launch()
                group.addTask {
                    var edge = IngestDecoder(decoder: decoder, strict: strict, intern: intern)
                    edge.decode(block, now: now, source: source)
                    return DecodeOrder.Decoded(sequence: sequence, batch: edge.take(), stopped: edge.stopped, intern: edge.intern)
                }
            }
            for try await chunk in chunks {
                let block = splitter.cut(chunk)
                if !block.isEmpty { launch(block, now: ingestTime?()) }
                while order.isFull, stopped == nil { try await settle() }
                if stopped != nil { break }
            }
            if stopped == nil {
                let last = splitter.cutFinish()
                if !last.isEmpty { launch(last, now: ingestTime?()) }
            }
            while !order.isDrained, stopped == nil { try await settle() }
            group.cancelAll()
            return stopped.map { .stopped($0) } ?? .completed
        }
    }

    private func forward(_ batch: DecodedBatch, report: (LineError) -> Void) async throws {
        guard !batch.isEmpty else { return }
        batch.rejections.forEach(report)
        if let forwarder {
            // A stream has no retries to recognise: each block is its own batch.
            if !batch.records.isEmpty { try await forwarder.forward(batch.records, batchID: nil) }
            counters.update { batch.count(into: &$0) }
            tap?(batch.records)
            return
        }
        if !batch.records.isEmpty {
            if let limiter {
                while let wait = limiter.take(batch.records.count, tenant: "stream") { try await sleep(.seconds(wait)) }
            }
            try await pipeline.input.send(RecordBatch(records: batch.records))
        }
        // Counted once taken: what the counters show is in the aggregator's input.
        counters.update { batch.count(into: &$0) }
        guard !batch.records.isEmpty else { return }
        tap?(batch.records)
    }

    /// Decodes one whole message (an HTTP body, a datagram) by the edge's rules, for `submit`
    /// or `datagram`. Refused only when it is not records at all.
    public func decode(
        message bytes: UnsafeBufferPointer<UInt8>, arrays: Bool, tenancy: Tenancy = .any, defaultKind: RecordKind? = nil, source: String? = nil
    ) throws(IngestRefusal) -> DecodedBatch {
        var decoderConfiguration = configuration.decoder
        if let defaultKind { decoderConfiguration.defaultKind = defaultKind }
        if case .tenant(let own) = tenancy { decoderConfiguration.defaultTenantID = own }
        switch IngestDecoder.decode(message: bytes, arrays: arrays, decoder: decoderConfiguration, now: ingestTime?(), source: source) {
        case .success(let batch):
            if batch.isEmpty { throw .invalid("the body holds no records") }
            return batch
        case .failure(let error):
            throw .invalid("the body is not a valid JSON array: \(error.message)")
        }
    }

    /// Takes one decoded datagram. UDP has no back-pressure: records that find the pipeline
    /// full are dropped and counted (`udp_dropped_records`), never silently. Returns how many
    /// records were taken (none when they were dropped), for a protocol's own counters.
    public func datagram(_ batch: DecodedBatch, report: (LineError) -> Void) async throws {
        batch.rejections.forEach(report)
        var counted = batch
        if let forwarder, !batch.records.isEmpty {
            do throws(IngestRefusal) {
                try await forwarder.forward(batch.records, batchID: nil)
            } catch {
                counters.add("udp_dropped_records", UInt64(batch.records.count))
                counted.records = []
                counted.byType = counted.byType.map { _ in 0 }
            }
            counters.update { counted.count(into: &$0) }
            tap?(counted.records)
            return
        }
        if !batch.records.isEmpty, limiter?.take(batch.records.count, tenant: "stream") != nil || !pipeline.input.trySend(RecordBatch(records: batch.records)) {
            counters.add("udp_dropped_records", UInt64(batch.records.count))
            counted.records = []
            counted.byType = counted.byType.map { _ in 0 }
        }
        counters.update { counted.count(into: &$0) }
        tap?(counted.records)
    }

    /// Takes one decoded message (an HTTP body): valid records go on even when others are bad.
    /// Refused whole, with nothing taken, when it names a foreign tenant, is over the rate
    /// limit, finds the store unwritable or the pipeline full past the enqueue timeout.
    ///
    /// With a `ticket` (a request's claim on its `Idempotency-Key`), `receipt` is its answer:
    /// once the records are taken it is left with the ticket for retries, and it goes to the
    /// store in the same block as the records.
    public func submit(_ batch: DecodedBatch, tenancy: Tenancy, ticket: IdempotencyKeys.Ticket? = nil,
                       receipt: IngestReceipt? = nil) async throws(IngestRefusal) -> Submission {
        if let failure = health?.failure { throw .storeUnwritable(failure, held: false) }
        if case .tenant(let own) = tenancy, let other = batch.records.first(where: { $0.tenantID != own }) {
            throw .foreignTenant(other.tenantID, own: own)
        }
        if let limiter, !batch.records.isEmpty {
            let key = if case .tenant(let own) = tenancy { own } else { "admin" }
            if let wait = limiter.take(batch.records.count, tenant: key) { throw .rateLimited(retryAfter: wait) }
        }
        guard !batch.records.isEmpty else {
            counters.update { batch.count(into: &$0) }
            return Submission(accepted: 0, rejections: batch.rejections)
        }
        if let forwarder {
            // Taken once the cluster's stream has them; a keyed retry (to any node) names the
            // same batch, so the stream stores it once.
            try await forwarder.forward(batch.records, batchID: ticket.map { "\($0.scope):\($0.key)" })
            counters.update { batch.count(into: &$0) }
            tap?(batch.records)
            if let ticket, let receipt { ticket.taken(receipt, acknowledgement: nil) }
            return Submission(accepted: batch.records.count, rejections: batch.rejections)
        }
        // The records go to the store through the aggregator, with the acknowledgement and the
        // receipt: they are stored in the same block.
        let acknowledgement = configuration.waitForDurability && pipeline.storeInput != nil ? Acknowledgement() : nil
        let receipt = ticket == nil ? nil : receipt
        let taken = RecordBatch(records: batch.records, acknowledgements: acknowledgement.map { [$0] } ?? [], receipts: receipt.map { [$0] } ?? [])
        guard await enqueue(taken) else { throw .pipelineFull(configuration.enqueueTimeout) }
        counters.update { batch.count(into: &$0) }
        tap?(batch.records)
        // The aggregator has the records: from here on they are taken, so the store gets them
        // whatever the client does, and only the durability wait has a deadline.
        if let ticket, let receipt { ticket.taken(receipt, acknowledgement: acknowledgement) }
        if let acknowledgement {
            switch await wait(for: acknowledgement) {
            case .stored: break
            case .failed(let reason): throw .storeUnwritable(reason, held: true)
            case .cancelled, nil: throw .notDurable
            }
        }
        return Submission(accepted: batch.records.count, rejections: batch.rejections)
    }

    /// Waits for records to be durable, as long as a request does (five enqueue timeouts);
    /// `nil` past that.
    ///
    /// A store that starts failing answers at once: the records may be queued behind a write
    /// the disk refused, and the writer takes nothing new until that write goes through, so
    /// their own acknowledgement would only come when space does. They are held all the same.
    public func wait(for acknowledgement: Acknowledgement) async -> Acknowledgement.Outcome? {
        let health = self.health
        return await deadline(configuration.enqueueTimeout * 5) {
            guard let health else { return await acknowledgement.wait() }
            return await withTaskGroup(of: Acknowledgement.Outcome?.self) { group in
                group.addTask { await acknowledgement.wait() }
                group.addTask {
                    await health.wait(failing: true)
                    return health.failure.map { .failed($0) }
                }
                while let next = await group.next() {
                    guard let outcome = next else { continue }
                    group.cancelAll()
                    // Written just as the store failed on something else: durable is the answer.
                    return acknowledgement.outcome ?? outcome
                }
                return .cancelled
            }
        }
    }

    /// Sends, waiting at most the enqueue timeout for room; `false` when it gave up (nothing sent).
    private func enqueue(_ batch: RecordBatch) async -> Bool {
        let input = pipeline.input
        let sleep = self.sleep
        let timeout = configuration.enqueueTimeout
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await input.send(batch)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await sleep(timeout)
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            if first { return true }
            // The timer won, but the send may have got through as it fired.
            return await group.next() ?? false
        }
    }

    /// Runs `body`, giving up after `timeout` on the edge's clock (`nil`).
    private func deadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
        let sleep = self.sleep
        return await withTaskGroup(of: T?.self) { group in
            group.addTask { await body() }
            group.addTask {
                try? await sleep(timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// Where a cluster node's ingest edge hands taken records: the cluster's stream, whose owner
/// of each partition aggregates them (design §12).
public protocol IngestForwarder: Sendable {
    /// Returns once `records` are durable where they go. A batch with a `batchID` that was
    /// forwarded before is stored once, however much of it got through the first time.
    func forward(_ records: [Record], batchID: String?) async throws(IngestRefusal)
}

/// Why the ingest edge refused a whole message; nothing in it was taken unless `held` says so.
public enum IngestRefusal: Error, Sendable, Equatable {
    /// The body is not records (an invalid JSON array, or nothing at all).
    case invalid(String)
    /// A record names `tenant`, but the token writes for `own` only.
    case foreignTenant(String?, own: String)
    /// Over `server.tenant_records_per_second`; retry after this many seconds.
    case rateLimited(retryAfter: Int)
    /// The pipeline stayed full for this long.
    case pipelineFull(Duration)
    /// The records are in the pipeline but were not confirmed durable in time.
    case notDurable
    /// The store cannot write. `held`: the records were taken before the failure and are held
    /// in memory until the store writes again.
    case storeUnwritable(String, held: Bool)
    /// The cluster's stream did not confirm the records, for this reason; part of them may
    /// be stored, so a retry should carry the same `Idempotency-Key`.
    case clusterUnavailable(String)
}
