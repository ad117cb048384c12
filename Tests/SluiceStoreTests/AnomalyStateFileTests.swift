import Foundation
import Synchronization
import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// `anomaly/detector.state`: the detector's models in a data directory.
@Suite("Anomaly detector checkpoint file")
struct AnomalyStateFileTests {
    static func machine(windows: Int) -> AnomalyDetector.StateMachine {
        var machine = AnomalyDetector.StateMachine(configuration: .init())
        for i in 0..<windows {
            let v = 100 + Double((i * 7) % 11)
            _ = machine.window(WindowSummary(
                span: WindowSpan(length: .minutes(1), start: Timestamp(seconds: 1_795_514_400 + Int64(i) * 60)),
                series: SeriesKey(tenantID: "t", name: "latency_ms"), count: 10, sum: v * 10, min: v, max: v, p50: v, p90: v, p95: v, p99: v))
        }
        return machine
    }

    @Test("saved models load back byte for byte, and a detector resumes from them")
    func roundTrip() throws {
        let file = AnomalyStateFile(directory: try DataDirectory(path: TestFiles.temporaryDirectory("sluice-anomaly"), create: true))
        #expect(try file.load() == nil)
        let machine = Self.machine(windows: 50)
        try file.save(machine.encoded())
        #expect(try file.load() == machine.encoded())
        let detector = try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: file)
        #expect(detector.initial.encoded() == machine.encoded())
    }

    @Test("a damaged file is refused by its checksum, set aside in quarantine/, reported, and the detector starts empty")
    func damaged() throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-anomaly"), create: true)
        let file = AnomalyStateFile(directory: directory)
        try file.save(Self.machine(windows: 50).encoded())
        var bytes = try #require(try directory.readFile(AnomalyStateFile.name))
        bytes[bytes.count / 2] ^= 0x40
        try directory.writeFile(AnomalyStateFile.name, bytes)
        #expect(throws: StoreError.self) { try file.load() }

        let reports = Mutex<[String]>([])
        let detector = try AnomalyDetector(configuration: .init(), counters: PipelineCounters(), persistence: file) { line in
            reports.withLock { $0.append(line) }
        }
        #expect(detector.initial.encoded() == AnomalyDetector.StateMachine(configuration: .init()).encoded())
        let said = reports.withLock { $0 }
        #expect(said.count == 1 && said[0].contains("fails its checksum") && said[0].contains("quarantine"), "\(said)")
        #expect(try file.load() == nil, "moved aside")
        #expect(FileManager.default.fileExists(atPath: "\(directory.path)/quarantine/anomaly-detector.state"))
    }
}
