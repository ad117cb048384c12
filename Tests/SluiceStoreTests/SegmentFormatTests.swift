import Foundation
import Testing
import SluiceConfig
import SluiceModel
import SluiceTesting
@testable import SluiceStore

/// Format 2 stores each window's sketch; segments written in format 1 (percentiles only)
/// still read, and a retention rewrite turns them into format 2 without changing a record.
@Suite("Segment formats")
struct SegmentFormatTests {
    /// A data directory holding the format-1 segment `sluice replay --data-dir` wrote for
    /// Fixtures/demo before windows kept their sketches.
    static func formatOneDirectory() throws -> DataDirectory {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-v1"), create: true)
        let name = "00000000000000000001.seg"
        let bytes = try #require(TestFiles.read("\(FixtureLocator.fixtures())/store-v1/\(name)"))
        #expect(bytes[8] == 1, "the fixture is a format-1 segment")
        let written = TestFiles.write("\(directory.path)/segments/\(name)", bytes)
        #expect(written)
        return directory
    }

    /// Records as `sluice query` prints them.
    static func ndjson(_ records: [StoredRecord]) -> String {
        var json = JSONWriter()
        for r in records {
            switch r {
            case .record(let record): record.write(to: &json)
            case .output(let output): output.write(to: &json)
            }
        }
        return String(decoding: json.bytes, as: UTF8.self)
    }

    @Test("a format-1 segment reads exactly as the Sluice that wrote it printed it, its windows without sketches")
    func formatOneReads() throws {
        let directory = try Self.formatOneDirectory()
        let records = try StoreReader(directory: directory).records(StoreQuery())
        let expected = try #require(TestFiles.readString("\(FixtureLocator.fixtures())/store-v1/expected.ndjson"))
        #expect(Self.ndjson(records) == expected)
        let windows = records.compactMap { if case .output(.window(let w)) = $0 { w } else { nil } }
        #expect(windows.count > 10)
        #expect(windows.allSatisfy { $0.sketch == nil })
    }

    @Test("a retention rewrite of a format-1 segment writes format 2 and keeps every record it does not expire")
    func rewriteUpgrades() throws {
        let directory = try Self.formatOneDirectory()
        let before = try StoreReader(directory: directory).records(StoreQuery())
        var retention = Configuration.Retention()
        retention.maxAge["metric"] = .hours(1)
        let pruner = RetentionPruner(directory: directory, policy: RetentionPolicy(retention), segmentBytes: 1 << 20)
        let now = Timestamp(microseconds: before.map(\.timestamp.microseconds).max()!) + .hours(2)
        let report = try pruner.prune(now: now)
        #expect(report.rewrittenSegments.count == 1)
        let segment = try #require(try directory.segments().first)
        #expect(try #require(TestFiles.read(segment.path))[8] == SegmentFile.version)
        let after = try StoreReader(directory: directory).records(StoreQuery())
        #expect(after == before.filter { $0.kind != .metric })
    }

    @Test("format 2 keeps each window's DDSketch and each visits window's HyperLogLog, bit for bit")
    func sketchesRoundTrip() throws {
        let span = WindowSpan(length: .minutes(1), start: Timestamp(microseconds: StoreTestSupport.t0))
        var sketch = DDSketch()
        var visitors = HyperLogLog()
        var random = SeededRandom(seed: 3)
        for _ in 0..<5_000 { sketch.add(exp(random.gaussian() + 4)) }
        for i in 0..<3_000 { visitors.add("v\(i)") }
        var few = HyperLogLog()
        for i in 0..<10 { few.add("v\(i)") }
        let records: [StoredRecord] = [
            .output(.window(WindowSummary(span: span, series: SeriesKey(tenantID: "t", name: "response_time", labels: ["route": "/a"]), sketch: sketch, sum: { var e = ExactSum(); e.add(1234.5); e.add(1e-9); return e }()))),
            .output(.window(WindowSummary(span: span, series: SeriesKey(tenantID: "t", name: "response_time", labels: ["route": "/a"]), count: 2, sum: 3, min: 1, max: 2,
                                          p50: 1, p90: 2, p95: 2, p99: 2))),
            .output(.visitsWindow(VisitsWindowSummary(span: span, tenantID: "site", visits: 4_000, visitors: visitors))),
            .output(.visitsWindow(VisitsWindowSummary(span: WindowSpan(length: .minutes(1), start: span.start + .minutes(1)), tenantID: "site", visits: 12, visitors: few))),
            .output(.visitsWindow(VisitsWindowSummary(span: WindowSpan(length: .minutes(1), start: span.start + .minutes(2)), tenantID: "site", visits: 3, uniqueVisitors: 2))),
        ]
        let (frame, _) = try BlockFrame.build(records, level: 3)
        let header = try #require(BlockFrame.header(frame))
        let decoded = try BlockFrame.records(frame, header, version: SegmentFile.version)
        #expect(decoded == records)
    }
}
