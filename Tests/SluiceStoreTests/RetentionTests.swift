import Testing
import SluiceConfig
import SluiceModel
import SluiceTesting
@testable import SluiceStore

@Suite("Retention")
struct RetentionTests {
    static let day: Int64 = 86_400_000_000
    static let now = Timestamp(microseconds: StoreTestSupport.t0 + 100 * day)

    /// Sealed segments with records of every type, for two tenants, one a day for 100 days.
    static func store(segmentDays: Int = 10) throws -> (DataDirectory, [StoredRecord]) {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory(), create: true)
        var all: [StoredRecord] = []
        for start in stride(from: 0, to: 100, by: segmentDays) {
            let appender = try directory.createSegment()
            var records: [StoredRecord] = []
            for d in start..<(start + segmentDays) {
                let ts = Timestamp(microseconds: StoreTestSupport.t0 + Int64(d) * day + 1)
                for tenant in ["site-a", "site-b"] {
                    records.append(.record(.metric(MetricRecord(timestamp: ts, tenantID: tenant, name: "m", value: Double(d)))))
                    records.append(.record(.tokenUsage(TokenUsageRecord(timestamp: ts, tenantID: tenant, model: "x", promptTokens: 1, completionTokens: 1, requestID: "\(tenant)-\(d)"))))
                    records.append(.output(.window(WindowSummary(span: WindowSpan(length: .minutes(1), start: ts), series: SeriesKey(tenantID: tenant, name: "m"),
                                                                 count: 1, sum: 1, min: 1, max: 1, p50: 1, p90: 1, p95: 1, p99: 1))))
                }
            }
            try appender.append(try BlockFrame.build(records, level: 3).bytes)
            _ = try appender.seal()
            all += records
        }
        return (directory, all)
    }

    static func policy(_ yaml: String) throws -> RetentionPolicy {
        RetentionPolicy(try Configuration.parse(yaml: yaml).retention)
    }

    @Test("prune removes exactly the records past their max age, per type and tenant, and nothing else")
    func maxAge() throws {
        let (directory, all) = try Self.store()
        let policy = try Self.policy("""
            retention:
              max_age: {metric: 30d, window: 60d, token_usage: 800d}
              tenants:
                site-b: {max_age: {metric: 7d}}
            """)
        let pruner = RetentionPruner(directory: directory, policy: policy, segmentBytes: 1 << 20)
        let dry = try pruner.prune(now: Self.now, dryRun: true)
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == all.count, "a dry run changes nothing")
        let report = try pruner.prune(now: Self.now)
        #expect(report.removedRecords == dry.removedRecords)

        let expected = all.filter { !policy.isExpired($0.kind, tenant: $0.tenantID, time: $0.timestamp.microseconds, now: Self.now) }
        let kept = try StoreReader(directory: directory).records(StoreQuery())
        #expect(Set(kept) == Set(expected))
        #expect(kept.count == expected.count)
        #expect(report.removedRecords == all.count - expected.count)
        // Spot checks of the policy itself: site-b keeps 7 days of metrics, site-a 30.
        let metrics = kept.filter { $0.kind == .metric }
        #expect(metrics.filter { $0.tenantID == "site-b" }.count == 7)
        #expect(metrics.filter { $0.tenantID == "site-a" }.count == 30)
        #expect(kept.filter { $0.kind == .tokenUsage }.count == 200)
        // Segments wholly expired were deleted, not rewritten empty.
        #expect(!report.deletedSegments.isEmpty || !report.rewrittenSegments.isEmpty)
        #expect(try directory.segments().allSatisfy { try $0.scan(verify: true).damage == nil })
    }

    @Test("over the size cap, the oldest data goes first and token usage last")
    func sizeCap() throws {
        let (directory, _) = try Self.store(segmentDays: 5)
        let before = try directory.totalBytes()
        let cap = before * 4 / 5
        var policy = try Self.policy("retention:\n  max_age: {metric: 1000d, window: 1000d, token_usage: 1000d}\n")
        // Below the configuration's 1MiB floor: the store under test is a few kilobytes.
        policy.maxBytes = Int64(cap)
        let segmentBytes = before / 50
        let pruner = RetentionPruner(directory: directory, policy: policy, segmentBytes: segmentBytes)
        let dry = try pruner.prune(now: Self.now, dryRun: true)
        let report = try pruner.prune(now: Self.now)
        #expect(dry.removed.mapValues { [$0.records, $0.bytes] } == report.removed.mapValues { [$0.records, $0.bytes] })
        #expect(dry.bytesAfter == report.bytesAfter)
        let after = try directory.totalBytes()
        #expect(after <= cap - 2 * segmentBytes)
        #expect(report.bytesAfter == after)
        let kept = try StoreReader(directory: directory).records(StoreQuery())
        // Every token-usage record survives while other data could still go.
        #expect(kept.filter { $0.kind == .tokenUsage }.count == 200)
        // What is left of metrics is the newest.
        let metricDays = kept.filter { $0.kind == .metric }.map { ($0.timestamp.microseconds - StoreTestSupport.t0) / Self.day }
        #expect(metricDays.count < 200)
        #expect((metricDays.min() ?? 0) > 0 && metricDays.max() == 99)
    }
}
