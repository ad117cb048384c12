import DequeModule
import SluiceModel

/// What the client holds while Sluice is slow or down: a bounded queue of records, the producers
/// waiting for room under `.wait`, and what was dropped under `.dropOldest`.
///
/// Pure state, no I/O and no locks: `RecordBuffer` holds it under a mutex and does the async
/// glue. Every mutating call returns what the caller must do once the lock is released (resume
/// producers, wake the flusher), in the manner of swift-async-algorithms' buffer.
struct RecordBufferStateMachine<Waiter> {
    /// A producer suspended under `.wait` until its records fit.
    struct Suspended {
        var id: UInt64
        var records: [Record]
        var waiter: Waiter
    }

    enum AppendAction {
        /// The records are queued; `wakeFlusher` when a whole batch is now waiting.
        case appended(wakeFlusher: Bool, dropped: Int)
        /// No room under `.wait`: suspend, then call `suspend(_:records:waiter:)`.
        case suspend
        /// The client has shut down: the records were not taken (and are counted as dropped).
        case closed
    }

    let capacity: Int
    let batchSize: Int
    let policy: SluiceClient.BufferPolicy

    private(set) var queued = Deque<Record>()
    private var suspended = Deque<Suspended>()
    private(set) var dropped = 0
    private(set) var isClosed = false

    init(capacity: Int, batchSize: Int, policy: SluiceClient.BufferPolicy) {
        precondition(capacity >= 1 && batchSize >= 1, "a buffer holds at least one record and a batch at least one")
        self.capacity = capacity
        self.batchSize = batchSize
        self.policy = policy
    }

    /// Records waiting to be sent, queued or held by suspended producers.
    var pending: Int { queued.count + suspended.reduce(0) { $0 + $1.records.count } }

    /// Producers suspended for room.
    var suspendedCount: Int { suspended.count }

    /// Whether `count` records fit now without dropping, and without overtaking a producer
    /// that waits (a closed buffer "has room": its refusal is the append's answer).
    func hasRoom(for count: Int) -> Bool {
        isClosed || (suspended.isEmpty && queued.count + count <= capacity)
    }

    /// Offers `records`. `mayWait` is false for callers that cannot suspend (swift-metrics
    /// handlers, cancelled producers): rather than block a thread the flusher may need, under
    /// `.wait` they give up those of their own records that find no room (queued records and
    /// waiting producers were promised delivery), and under `.dropOldest` the oldest make room.
    mutating func append(_ records: [Record], mayWait: Bool) -> AppendAction {
        if isClosed {
            dropped += records.count
            return .closed
        }
        let room = capacity - queued.count
        if records.count <= room && suspended.isEmpty {
            return .appended(wakeFlusher: enqueue(records), dropped: 0)
        }
        if policy == .wait {
            // Behind those already waiting, so producers keep their order.
            if mayWait { return .suspend }
            let taken = Swift.max(0, Swift.min(room, records.count))
            dropped += records.count - taken
            return .appended(wakeFlusher: enqueue(records.prefix(taken)), dropped: records.count - taken)
        }
        // Drop the oldest queued records, and if the offer alone is larger than the buffer,
        // its own oldest too.
        let excess = queued.count + records.count - capacity
        let fromQueue = Swift.min(excess, queued.count)
        queued.removeFirst(fromQueue)
        let fromOffer = excess - fromQueue
        dropped += excess
        return .appended(wakeFlusher: enqueue(records.dropFirst(fromOffer)), dropped: excess)
    }

    /// Queues records pulled by the flusher itself (reporters), which must neither suspend nor
    /// drop: they may take the buffer past its capacity by one pull.
    mutating func force(_ records: [Record]) -> AppendAction {
        if isClosed {
            dropped += records.count
            return .closed
        }
        return .appended(wakeFlusher: enqueue(records), dropped: 0)
    }

    /// Records a suspended producer; its records enter the queue, in order, as room opens.
    mutating func suspend(id: UInt64, records: [Record], waiter: Waiter) {
        suspended.append(Suspended(id: id, records: records, waiter: waiter))
    }

    /// A suspended producer whose task was cancelled: its records are dropped.
    mutating func cancel(id: UInt64) -> Waiter? {
        guard let index = suspended.firstIndex(where: { $0.id == id }) else { return nil }
        let gone = suspended.remove(at: index)
        dropped += gone.records.count
        return gone.waiter
    }

    /// Takes the next batch to send (at most `batchSize` records, oldest first), and admits
    /// suspended producers into the room it leaves. `wholeOnly` takes a batch only when a full
    /// one is queued.
    mutating func takeBatch(wholeOnly: Bool = false) -> (batch: [Record], resume: [Waiter]) {
        if wholeOnly && queued.count < batchSize { return ([], []) }
        let count = Swift.min(batchSize, queued.count)
        let batch = Array(queued.prefix(count))
        queued.removeFirst(count)
        return (batch, admit())
    }

    /// Takes everything (the final flush at shutdown), admitting suspended producers first, and
    /// refuses records from then on.
    mutating func close() -> (records: [Record], resume: [Waiter]) {
        isClosed = true
        var all = Array(queued)
        queued.removeAll()
        var resume: [Waiter] = []
        while let next = suspended.popFirst() {
            all.append(contentsOf: next.records)
            resume.append(next.waiter)
        }
        return (all, resume)
    }

    /// Counts records the client gave up on (undeliverable at shutdown, or refused by Sluice).
    mutating func countDropped(_ count: Int) { dropped += count }

    private mutating func enqueue(_ records: some Collection<Record>) -> Bool {
        let before = queued.count
        queued.append(contentsOf: records)
        return before < batchSize && queued.count >= batchSize
    }

    private mutating func admit() -> [Waiter] {
        var resume: [Waiter] = []
        while let first = suspended.first {
            let room = capacity - queued.count
            // A producer whose records alone exceed the buffer is admitted once it is empty.
            guard first.records.count <= room || queued.isEmpty else { break }
            suspended.removeFirst()
            queued.append(contentsOf: first.records)
            resume.append(first.waiter)
        }
        return resume
    }
}
