import Testing
@testable import SluiceClient

/// Under `.wait` nothing offered through `record` is lost. Callers that cannot wait
/// (`recordNow`: swift-metrics timers and histograms) must then give up their own records when
/// the buffer is full, not push out the records that waiting producers were promised.
@Suite("RecordBuffer: .wait and callers that cannot wait")
struct RecordBufferWaitPolicyTests {
    static func sample(_ value: Int) -> Record {
        .metric(MetricRecord(timestamp: Timestamp(seconds: Int64(value)), name: "sample", value: Double(value)))
    }

    static func values(_ records: [Record]) -> [Int] {
        records.map { if case .metric(let m) = $0 { Int(m.value) } else { -1 } }
    }

    @Test("full under .wait: an offer that cannot wait is dropped and counted; queued and waiting records all go out, in order")
    func fullBufferKeepsWhatWaits() {
        var machine = RecordBufferStateMachine<Int>(capacity: 3, batchSize: 3, policy: .wait)
        for value in 0..<3 {
            guard case .appended = machine.append([Self.sample(value)], mayWait: true) else { Issue.record("room for \(value)"); return }
        }
        guard case .suspend = machine.append([Self.sample(3)], mayWait: true) else { Issue.record("a full buffer holds the producer"); return }
        machine.suspend(id: 1, records: [Self.sample(3)], waiter: 1)

        _ = machine.append([Self.sample(100), Self.sample(101)], mayWait: false)
        #expect(machine.dropped == 2, "the offer that could not wait, and nothing else")

        let first = machine.takeBatch()
        #expect(Self.values(first.batch) == [0, 1, 2])
        #expect(first.resume == [1])
        #expect(Self.values(machine.takeBatch().batch) == [3])
        #expect(machine.dropped == 2)
    }

    @Test("room under .wait: an offer that cannot wait takes what room there is, and drops only the rest")
    func partialRoom() {
        var machine = RecordBufferStateMachine<Int>(capacity: 4, batchSize: 4, policy: .wait)
        _ = machine.append([Self.sample(0), Self.sample(1)], mayWait: true)
        _ = machine.append([Self.sample(10), Self.sample(11), Self.sample(12)], mayWait: false)
        #expect(machine.dropped == 1)
        #expect(Self.values(machine.takeBatch().batch) == [0, 1, 10, 11])
    }

    @Test("under .dropOldest an offer that cannot wait still makes room by dropping the oldest")
    func dropOldestUnchanged() {
        var machine = RecordBufferStateMachine<Int>(capacity: 3, batchSize: 3, policy: .dropOldest)
        _ = machine.append([Self.sample(0), Self.sample(1), Self.sample(2)], mayWait: true)
        _ = machine.append([Self.sample(3)], mayWait: false)
        #expect(machine.dropped == 1)
        #expect(Self.values(machine.takeBatch().batch) == [1, 2, 3])
    }
}
