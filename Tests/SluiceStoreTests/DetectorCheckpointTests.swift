#if canImport(Glibc)
import Glibc
#endif
import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// The anomaly detector's checkpoint goes to the store in the event stream, behind the
/// anomalies found before it: a crash can never leave a checkpoint that has scored a window
/// whose anomaly the store lacks (a restart skips windows its checkpoint has scored).
@Suite("Anomaly detector checkpoints in the store", .serialized)
struct DetectorCheckpointTests {
    static func anomaly(_ i: Int) -> Anomaly {
        Anomaly(timestamp: Timestamp(seconds: 1_795_514_400 + Int64(i) * 60), series: SeriesKey(tenantID: "t", name: "m"), statistic: "p99",
                value: 840, expected: 120, score: 0.97, reason: "p99 m 840, expected 120 ± 35")
    }

    /// The last stage and a segment writer, as a pipeline joins them, given `events`.
    static func store(_ events: [[StageEvent]], in directory: DataDirectory) async throws {
        let input = BoundedChannel<[StageEvent]>(capacity: 4), toStore = BoundedChannel<StoreBatch>(capacity: 4)
        let sinks = SinkStage(input: input, sinks: [RecordingSink()], counters: PipelineCounters(), emitSummary: false, store: toStore)
        let writer = SegmentWriter(replayConfiguration: .init(), directory: directory) { _ in }
        async let written: Void = writer.run(input: toStore)
        async let delivered: Void = sinks.run()
        for batch in events { try await input.send(batch) }
        input.finish()
        // Whichever fails first; the other ends once its channel is closed or finished.
        do {
            try await written
        } catch {
            toStore.close()
            try? await delivered
            throw error
        }
        try await delivered
    }

    @Test("a checkpoint is kept after the anomalies before it are stored, and those after it follow")
    func kept() async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        try await Self.store([
            [.output(.anomaly(Self.anomaly(1))), .detectorCheckpoint([1, 1]), .output(.anomaly(Self.anomaly(2)))],
            [.detectorCheckpoint([2, 2])],
        ], in: directory)
        #expect(try AnomalyStateFile(directory: directory).load() == [2, 2])
        let stored = try StoreReader(directory: directory).records(StoreQuery(kinds: [.anomaly]))
        #expect(stored == [.output(.anomaly(Self.anomaly(1))), .output(.anomaly(Self.anomaly(2)))])
    }

    @Test("when the anomalies before it cannot be written, the checkpoint is not either", arguments: [EIO, ENOSPC])
    func notAheadOfItsAnomalies(code: Int32) async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let fault = FileFaults.arm(FileFault(.write, .openSegment, errno: code, under: directory.path))
        defer { fault.clear() }
        await #expect(throws: StoreError.self) {
            try await Self.store([[.output(.anomaly(Self.anomaly(1))), .detectorCheckpoint([1, 1])]], in: directory)
        }
        #expect(fault.fired > 0)
        #expect(try AnomalyStateFile(directory: directory).load() == nil)
    }
}
