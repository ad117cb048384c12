import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

enum StoreTestSupport {
    static let t0: Int64 = 1_795_514_400_000_000

    static func metric(_ i: Int, tenant: String? = "t", seconds: Int64? = nil) -> Record {
        .metric(MetricRecord(timestamp: Timestamp(microseconds: t0 + (seconds ?? Int64(i)) * 1_000_000), tenantID: tenant, name: "m", value: Double(i) * 0.5))
    }

    /// Writes `blocks` blocks of `perBlock` metric records into an open segment and returns it.
    static func openSegment(blocks: Int, perBlock: Int) throws -> (DataDirectory, SegmentFile, [Int]) {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        let appender = try directory.createSegment()
        var ends: [Int] = []
        for b in 0..<blocks {
            let records = (0..<perBlock).map { StoredRecord.record(metric(b * perBlock + $0)) }
            try appender.append(try BlockFrame.build(records, level: 3).bytes)
            ends.append(appender.size)
        }
        try appender.sync()
        return (directory, appender.file, ends)
    }
}
