import Synchronization

/// A bounded multi-producer, single-consumer channel: the edge between two pipeline stages.
///
/// `send` suspends while the channel holds `capacity` elements, which is how back-pressure
/// travels from a slow sink all the way back to the socket or stdin reader. Elements are batches,
/// never single records (a hop costs microseconds; a record's whole budget is under one).
public final class BoundedChannel<Element: Sendable>: Sendable, AsyncSequence {
    private let state: Mutex<StateMachine>
    private let ids = Atomic<UInt64>(0)

    public init(capacity: Int) {
        state = Mutex(StateMachine(capacity: capacity))
    }

    /// Elements queued or held by waiting producers (the channel depth).
    public var count: Int { state.withLock { $0.count } }

    public var capacity: Int { state.withLock { $0.capacity } }

    /// Sends `element`, waiting while the channel is full. Throws `ChannelClosedError` when the
    /// consumer has gone or the channel was finished, `CancellationError` when the task is
    /// cancelled while waiting (the element is then not delivered).
    public func send(_ element: Element) async throws {
        let action = state.withLock { $0.send(element) }
        switch action {
        case .none: return
        case .resumeConsumer(let consumer, let element):
            consumer.resume(returning: element)
            return
        case .fail: throw ChannelClosedError()
        case .suspend: break
        }
        let id = ids.wrappingAdd(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: StateMachine.ProducerContinuation) in
                let action = state.withLock { $0.suspended(id: id, element: element, continuation: continuation) }
                switch action {
                case .none: break
                case .resumeProducer(let producer, let error):
                    if let error { producer.resume(throwing: error) } else { producer.resume() }
                case .resumeBoth(let producer, let consumer, let element):
                    consumer.resume(returning: element)
                    producer.resume()
                }
            }
        } onCancel: {
            state.withLock { $0.producerCancelled(id: id) }?.resume(throwing: CancellationError())
        }
    }

    /// Sends without waiting; `false` when the channel is full or closed (UDP's drop path).
    public func trySend(_ element: Element) -> Bool {
        let action = state.withLock { state -> StateMachine.SendAction in
            let action = state.send(element)
            return action
        }
        switch action {
        case .none: return true
        case .resumeConsumer(let consumer, let element):
            consumer.resume(returning: element)
            return true
        case .suspend, .fail: return false
        }
    }

    /// No more elements will be sent; the consumer drains the queue and then sees the end.
    public func finish() {
        state.withLock { $0.finish() }?.resume(returning: nil)
    }

    /// The consumer has stopped: queued elements are dropped and producers fail from now on.
    public func close() {
        let (consumer, producers) = state.withLock { $0.close() }
        consumer?.resume(returning: nil)
        for p in producers { p.resume(throwing: ChannelClosedError()) }
    }

    /// The next element, or `nil` once the channel is finished and drained.
    public func next() async -> Element? {
        let action = state.withLock { $0.next() }
        switch action {
        case .element(let element, let producer):
            producer?.resume()
            return element
        case .end:
            return nil
        case .suspend:
            break
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: StateMachine.ConsumerContinuation) in
                let action = state.withLock { $0.consumerSuspended(continuation) }
                if case .resume(let consumer, let element, let producer) = action {
                    producer?.resume()
                    consumer.resume(returning: element)
                }
            }
        } onCancel: {
            close()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BoundedChannel
        public mutating func next() async -> Element? { await channel.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: self) }
}
