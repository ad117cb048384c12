import Testing
@testable import SluiceClient

/// `RecordBufferStateMachine`, driven synchronously: what a host sees when Sluice is slow.
@Suite("Record buffer state machine")
struct RecordBufferStateMachineTests {
    typealias Machine = RecordBufferStateMachine<String>

    static func records(_ values: ClosedRange<Int>) -> [Record] {
        values.map { .metric(MetricRecord(timestamp: Timestamp(seconds: 1_000), name: "m", value: Double($0))) }
    }

    static func values(_ records: [Record]) -> [Int] {
        records.map { if case .metric(let m) = $0 { Int(m.value) } else { -1 } }
    }

    @Test("records queue in order, and a full batch wakes the flusher once")
    func wakesOnFullBatch() {
        var machine = Machine(capacity: 10, batchSize: 4, policy: .wait)
        guard case .appended(false, 0) = machine.append(Self.records(1...3), mayWait: true) else { Issue.record("expected appended"); return }
        guard case .appended(true, 0) = machine.append(Self.records(4...4), mayWait: true) else { Issue.record("expected a wake-up"); return }
        guard case .appended(false, 0) = machine.append(Self.records(5...5), mayWait: true) else { Issue.record("one wake-up per batch"); return }
        #expect(Self.values(machine.takeBatch(wholeOnly: true).batch) == [1, 2, 3, 4])
        #expect(machine.takeBatch(wholeOnly: true).batch.isEmpty, "one record is not a whole batch")
        #expect(Self.values(machine.takeBatch().batch) == [5])
    }

    @Test("under wait a full buffer suspends producers, and admits them in order as batches leave")
    func waitSuspendsAndAdmitsInOrder() {
        var machine = Machine(capacity: 4, batchSize: 2, policy: .wait)
        _ = machine.append(Self.records(1...4), mayWait: true)
        guard case .suspend = machine.append(Self.records(5...6), mayWait: true) else { Issue.record("a full buffer must suspend"); return }
        machine.suspend(id: 1, records: Self.records(5...6), waiter: "first")
        // Room for one now would still queue behind the first producer, not overtake it.
        guard case .suspend = machine.append(Self.records(7...7), mayWait: true) else { Issue.record("later producers wait behind earlier ones"); return }
        machine.suspend(id: 2, records: Self.records(7...7), waiter: "second")
        #expect(machine.pending == 7)

        let first = machine.takeBatch()
        #expect(Self.values(first.batch) == [1, 2])
        #expect(first.resume == ["first"], "two records left: room for the first producer only")
        let second = machine.takeBatch()
        #expect(Self.values(second.batch) == [3, 4])
        #expect(second.resume == ["second"])
        #expect(Self.values(machine.close().records) == [5, 6, 7])
        #expect(machine.dropped == 0, "wait never drops")
    }

    @Test("drop-oldest makes room by dropping the oldest queued records, and counts them")
    func dropOldest() {
        var machine = Machine(capacity: 4, batchSize: 2, policy: .dropOldest)
        _ = machine.append(Self.records(1...4), mayWait: true)
        guard case .appended(_, 2) = machine.append(Self.records(5...6), mayWait: true) else { Issue.record("expected two dropped"); return }
        #expect(Self.values(Array(machine.queued)) == [3, 4, 5, 6])
        // An offer larger than the whole buffer keeps its newest records.
        guard case .appended(_, 6) = machine.append(Self.records(7...12), mayWait: true) else { Issue.record("expected six dropped"); return }
        #expect(Self.values(Array(machine.queued)) == [9, 10, 11, 12])
        #expect(machine.dropped == 8)
    }

    @Test("a cancelled producer's records are dropped and counted; others keep their place")
    func cancelledProducer() {
        var machine = Machine(capacity: 1, batchSize: 1, policy: .wait)
        _ = machine.append(Self.records(1...1), mayWait: true)
        machine.suspend(id: 1, records: Self.records(2...3), waiter: "a")
        machine.suspend(id: 2, records: Self.records(4...4), waiter: "b")
        #expect(machine.cancel(id: 1) == "a")
        #expect(machine.cancel(id: 1) == nil, "cancelled once")
        #expect(machine.dropped == 2)
        let next = machine.takeBatch()
        #expect(next.resume == ["b"])
        #expect(Self.values(machine.takeBatch().batch) == [4])
    }

    @Test("a producer larger than the buffer is admitted once the buffer is empty")
    func oversizedProducer() {
        var machine = Machine(capacity: 2, batchSize: 2, policy: .wait)
        _ = machine.append(Self.records(1...1), mayWait: true)
        guard case .suspend = machine.append(Self.records(2...5), mayWait: true) else { Issue.record("expected to wait"); return }
        machine.suspend(id: 1, records: Self.records(2...5), waiter: "big")
        #expect(machine.takeBatch().resume == ["big"])
        #expect(Self.values(machine.takeBatch().batch) == [2, 3])
        #expect(Self.values(machine.takeBatch().batch) == [4, 5])
    }

    @Test("closing hands over everything held, and refuses and counts what comes after")
    func close() {
        var machine = Machine(capacity: 2, batchSize: 2, policy: .wait)
        _ = machine.append(Self.records(1...2), mayWait: true)
        machine.suspend(id: 1, records: Self.records(3...3), waiter: "late")
        let closed = machine.close()
        #expect(Self.values(closed.records) == [1, 2, 3])
        #expect(closed.resume == ["late"])
        guard case .closed = machine.append(Self.records(4...5), mayWait: true) else { Issue.record("closed buffers refuse"); return }
        #expect(machine.dropped == 2)
        #expect(machine.pending == 0)
    }

    @Test("records pulled by the flusher never wait and never drop, even past capacity")
    func pulledRecords() {
        var machine = Machine(capacity: 2, batchSize: 2, policy: .wait)
        _ = machine.append(Self.records(1...2), mayWait: true)
        _ = machine.force(Self.records(3...4))
        #expect(Self.values(Array(machine.queued)) == [1, 2, 3, 4])
        #expect(machine.dropped == 0)
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test("400 and other refusals are never retried; 408, 409, 429 and 5xx are", arguments: [
        (202, RetryPolicy.Decision.delivered), (200, .delivered), (400, .reject), (401, .reject), (403, .reject),
        (413, .reject), (415, .reject), (404, .reject), (408, .retry), (409, .retry), (429, .retry),
        (500, .retry), (502, .retry), (503, .retry), (504, .retry), (507, .retry),
    ])
    func decisions(status: Int, decision: RetryPolicy.Decision) {
        #expect(RetryPolicy.decide(status: status) == decision)
    }

    @Test("back-off doubles from the first step up to the cap, jittered over the whole step")
    func backoff() {
        let policy = RetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(2))
        #expect(policy.delay(afterAttempt: 1, unit: 1) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 2, unit: 1) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 5, unit: 1) == .milliseconds(1600))
        #expect(policy.delay(afterAttempt: 6, unit: 1) == .seconds(2))
        #expect(policy.delay(afterAttempt: 60, unit: 1) == .seconds(2), "no overflow however long Sluice is away")
        #expect(policy.delay(afterAttempt: 3, unit: 0.5) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 3, unit: 0) == .zero)
    }

    @Test("the server's Retry-After is a floor")
    func retryAfter() {
        let policy = RetryPolicy()
        #expect(policy.delay(afterAttempt: 1, unit: 0.5, retryAfter: 3) == .seconds(3))
        #expect(policy.delay(afterAttempt: 30, unit: 1, retryAfter: 1) == .seconds(5))
    }
}
