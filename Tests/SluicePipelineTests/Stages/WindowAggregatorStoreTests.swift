import Testing
import SluiceModel
@testable import SluicePipeline

/// What the window aggregator hands the store: each batch's records, with the series it found
/// for them and the acknowledgements that wait on them, and what happens to those when the
/// store has gone.
@Suite("The aggregator feeds the store")
struct WindowAggregatorStoreTests {
    static let base: Int64 = 1_795_514_400_000_000  // 2026-11-24T10:00:00Z

    /// Label sets shared by the records that repeat them, as the decoder's intern table shares them.
    static let hosts: [String: Labels] = ["a": ["host": "a"], "b": ["host": "b"]]

    static func sample(_ i: Int, host: String) -> Record {
        .metric(MetricRecord(timestamp: Timestamp(microseconds: base + Int64(i) * 1_000_000), tenantID: "t",
                             labels: hosts[host]!, name: "cpu", value: Double(i)))
    }

    static func aggregator(store: BoundedChannel<StoreBatch>) -> (WindowAggregator, BoundedChannel<RecordBatch>) {
        let input = BoundedChannel<RecordBatch>(capacity: 8)
        let aggregator = WindowAggregator(configuration: .init(windows: [.minutes(1)], lateness: .zero), input: input,
                                          output: BoundedChannel(capacity: 64), store: store, counters: PipelineCounters())
        return (aggregator, input)
    }

    @Test("each batch reaches the store with its records, a sample per record, the new series' keys and its acknowledgement; the closing windows come after")
    func batchesReachTheStore() async throws {
        let store = BoundedChannel<StoreBatch>(capacity: 16)
        let (aggregator, input) = Self.aggregator(store: store)
        let first = (0..<3).map { Self.sample($0, host: "a") }
        let second = [Self.sample(3, host: "a"), Self.sample(4, host: "b")]
        let waiting = Acknowledgement()
        try await input.send(RecordBatch(records: first))
        try await input.send(RecordBatch(records: second, acknowledgements: [waiting]))
        input.finish()
        try await aggregator.run()
        store.finish()
        var batches: [StoreBatch] = []
        while let batch = await store.next() { batches.append(batch) }

        #expect(batches.count == 3)
        #expect(batches[0].records == first && batches[1].records == second)
        #expect(batches.map(\.samples.count) == [3, 2, 0])
        // Series are named once, in number order, as they first come.
        #expect(batches[0].seriesKeys == [SeriesKey(tenantID: "t", name: "cpu", labels: ["host": "a"])])
        #expect(batches[1].seriesKeys == [SeriesKey(tenantID: "t", name: "cpu", labels: ["host": "b"])])
        // A sample of a series seen in an earlier batch carries its number, time and value.
        #expect(batches[1].samples[0] == StoredSample(series: 0, time: Self.base + 3_000_000, value: 3))
        #expect(batches[1].acknowledgements.count == 1 && batches[1].acknowledgements[0] === waiting)
        #expect(waiting.outcome == nil, "only the writer resolves it")
        // The end of input fires both windows (a and b), after every record.
        #expect(batches[2].records.isEmpty && batches[2].outputs.count == 2)
    }

    @Test("when the store has gone, the records' acknowledgement is answered at once as not known to be durable")
    func storeGone() async throws {
        let store = BoundedChannel<StoreBatch>(capacity: 1)
        store.close()
        let (aggregator, input) = Self.aggregator(store: store)
        let waiting = Acknowledgement()
        try await input.send(RecordBatch(records: [Self.sample(0, host: "a")], acknowledgements: [waiting]))
        input.finish()
        await #expect(throws: ChannelClosedError.self) { try await aggregator.run() }
        #expect(waiting.outcome == .cancelled)
    }
}
