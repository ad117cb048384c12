import DequeModule

extension BoundedChannel {
    /// The channel's state, pure and synchronous: every method says what the caller must do
    /// after leaving the lock (resume which continuation with what).
    struct StateMachine {
        typealias ProducerContinuation = CheckedContinuation<Void, any Error>
        typealias ConsumerContinuation = CheckedContinuation<Element?, Never>

        struct WaitingProducer {
            var id: UInt64
            var element: Element
            var continuation: ProducerContinuation
        }

        let capacity: Int
        private(set) var buffer: Deque<Element> = []
        private var waitingProducers: Deque<WaitingProducer> = []
        private var consumer: ConsumerContinuation?
        private var finished = false
        private var closed = false
        /// Producers whose cancellation arrived before they suspended.
        private var cancelledProducers: Set<UInt64> = []

        init(capacity: Int) {
            precondition(capacity >= 1, "a channel needs room for at least one element")
            self.capacity = capacity
        }

        var count: Int { buffer.count + waitingProducers.count }

        enum SendAction {
            /// The element is queued; nothing to resume.
            case none
            /// The element goes straight to the waiting consumer.
            case resumeConsumer(ConsumerContinuation, Element)
            /// No room: the producer must suspend.
            case suspend
            /// The consumer is gone or the channel finished: the element cannot be delivered.
            case fail
        }

        mutating func send(_ element: Element) -> SendAction {
            if closed || finished { return .fail }
            if let consumer {
                self.consumer = nil
                return .resumeConsumer(consumer, element)
            }
            if buffer.count < capacity {
                buffer.append(element)
                return .none
            }
            return .suspend
        }

        /// Offers without waiting: `true` when taken (UDP, where there is no back-pressure).
        mutating func trySend(_ element: Element) -> (taken: Bool, resume: ConsumerContinuation?) {
            switch send(element) {
            case .none: return (true, nil)
            case .resumeConsumer(let c, let e):
                // Put it back on the fast path below: the consumer receives it at once.
                _ = e
                return (true, c)
            case .suspend, .fail: return (false, nil)
            }
        }

        enum SuspendAction {
            case none
            case resumeProducer(ProducerContinuation, (any Error)?)
            case resumeBoth(ProducerContinuation, ConsumerContinuation, Element)
        }

        /// The producer has suspended; state may have changed since `send` said so.
        mutating func suspended(id: UInt64, element: Element, continuation: ProducerContinuation) -> SuspendAction {
            if cancelledProducers.remove(id) != nil { return .resumeProducer(continuation, CancellationError()) }
            if closed || finished { return .resumeProducer(continuation, ChannelClosedError()) }
            if let consumer {
                self.consumer = nil
                return .resumeBoth(continuation, consumer, element)
            }
            if buffer.count < capacity {
                buffer.append(element)
                return .resumeProducer(continuation, nil)
            }
            waitingProducers.append(WaitingProducer(id: id, element: element, continuation: continuation))
            return .none
        }

        mutating func producerCancelled(id: UInt64) -> ProducerContinuation? {
            if let i = waitingProducers.firstIndex(where: { $0.id == id }) {
                return waitingProducers.remove(at: i).continuation
            }
            cancelledProducers.insert(id)
            return nil
        }

        enum NextAction {
            case element(Element, resumeProducer: ProducerContinuation?)
            case end
            case suspend
        }

        mutating func next() -> NextAction {
            if let first = buffer.popFirst() {
                if let producer = waitingProducers.popFirst() {
                    buffer.append(producer.element)
                    return .element(first, resumeProducer: producer.continuation)
                }
                return .element(first, resumeProducer: nil)
            }
            if let producer = waitingProducers.popFirst() {
                return .element(producer.element, resumeProducer: producer.continuation)
            }
            if finished || closed { return .end }
            return .suspend
        }

        enum ConsumerSuspendAction {
            case none
            case resume(ConsumerContinuation, Element?, resumeProducer: ProducerContinuation?)
        }

        mutating func consumerSuspended(_ continuation: ConsumerContinuation) -> ConsumerSuspendAction {
            switch next() {
            case .element(let e, let p): return .resume(continuation, e, resumeProducer: p)
            case .end: return .resume(continuation, nil, resumeProducer: nil)
            case .suspend:
                consumer = continuation
                return .none
            }
        }

        /// The producers are done: the consumer drains what is queued, then sees the end.
        mutating func finish() -> ConsumerContinuation? {
            finished = true
            if buffer.isEmpty, waitingProducers.isEmpty, let consumer {
                self.consumer = nil
                return consumer
            }
            return nil
        }

        /// The consumer is gone: queued elements are dropped, waiting producers fail.
        mutating func close() -> (ConsumerContinuation?, [ProducerContinuation]) {
            closed = true
            buffer.removeAll()
            let producers = waitingProducers.map(\.continuation)
            waitingProducers.removeAll()
            let c = consumer
            consumer = nil
            return (c, producers)
        }
    }
}

/// A send on a channel whose consumer has gone or whose producers have finished.
public struct ChannelClosedError: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "the pipeline has stopped accepting input" }
}
