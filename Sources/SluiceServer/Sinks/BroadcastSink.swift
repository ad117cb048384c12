import Synchronization
import SluiceModel
import SluicePipeline

/// The live stream behind `GET /api/v2/analytics/stream`: every output record, fanned out to
/// each subscriber that wants its tenant and type.
///
/// A subscriber that reads too slowly must not hold up the pipeline, so each has a bounded
/// buffer that keeps the newest records; what is shed is counted (per subscriber, and in
/// `sluice_stream_dropped_total`) and the subscriber is told.
public final class BroadcastSink: Sink {
    public struct Filter: Sendable {
        public var tenants: Set<String>?
        public var types: Set<String>?

        func wants(_ record: OutputRecord) -> Bool {
            if case .summary = record { return false }
            if let types, !types.contains(record.typeName) { return false }
            if let tenants, !tenants.contains(record.tenantID ?? "") { return false }
            return true
        }
    }

    final class Subscriber: Sendable {
        let filter: Filter
        let continuation: AsyncStream<OutputRecord>.Continuation
        let dropped = Atomic<Int>(0)
        init(filter: Filter, continuation: AsyncStream<OutputRecord>.Continuation) {
            self.filter = filter
            self.continuation = continuation
        }
    }

    public struct Subscription: Sendable {
        public let records: AsyncStream<OutputRecord>
        let subscriber: Subscriber
        /// Records shed since the last call because the reader was too slow.
        public func takeDropped() -> Int { subscriber.dropped.exchange(0, ordering: .relaxed) }
    }

    private let subscribers = Mutex<[ObjectIdentifier: Subscriber]>([:])
    /// Callers of `waitForSubscriber()` parked until the next `subscribe`.
    private let subscribeWaiters = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let totalDropped = Atomic<Int>(0)
    let bufferSize: Int

    public init(bufferSize: Int = 4_096) { self.bufferSize = bufferSize }

    public var dropped: Int { totalDropped.load(ordering: .relaxed) }
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    public func subscribe(_ filter: Filter) -> Subscription {
        let (stream, continuation) = AsyncStream<OutputRecord>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let subscriber = Subscriber(filter: filter, continuation: continuation)
        let id = ObjectIdentifier(subscriber)
        subscribers.withLock { $0[id] = subscriber }
        for waiter in subscribeWaiters.withLock({ w in defer { w.removeAll() }; return w }) { waiter.resume() }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return Subscription(records: stream, subscriber: subscriber)
    }

    /// Returns once at least one subscriber is registered: from then on every record written
    /// reaches it (it is buffered until the response reads it).
    public func waitForSubscriber() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let ready = subscribers.withLock { current -> Bool in
                if !current.isEmpty { return true }
                subscribeWaiters.withLock { $0.append(waiter) }
                return false
            }
            if ready { waiter.resume() }
        }
    }

    public func write(_ records: [OutputRecord]) async throws {
        let current = subscribers.withLock { Array($0.values) }
        for subscriber in current {
            for record in records where subscriber.filter.wants(record) {
                if case .dropped = subscriber.continuation.yield(record) {
                    subscriber.dropped.add(1, ordering: .relaxed)
                    totalDropped.add(1, ordering: .relaxed)
                }
            }
        }
    }

    public func finish() async throws { closeSubscribers() }

    /// Ends every subscriber's stream (a shutting-down server closes its SSE responses).
    public func closeSubscribers() {
        let current = subscribers.withLock { s -> [Subscriber] in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for subscriber in current { subscriber.continuation.finish() }
    }
}
