#if canImport(Glibc)
import Glibc
#endif
import Testing
import SluiceConfig
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// Every write step of the store's other writers failed in turn, with EIO and ENOSPC: a
/// retention rewrite, a tier roll-up, the token meter's checkpoint. Each throws (a one-shot
/// command exits non-zero; a server reports it and tries again at its next run) and leaves the
/// store whole and readable, nothing half-written beside it; once the fault clears, the next
/// run does the work.
@Suite("Injected I/O errors: retention, tiers, token checkpoint", .serialized, .timeLimit(.minutes(5)))
struct FaultInjectionMaintenanceTests {
    typealias Step = (FileFault.Operation, FileFault.Files)

    static let errors: [Int32] = [EIO, ENOSPC]
    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    static let retentionSteps: [Step] = [
        (.unlink, .sealedSegment), (.directorySync, .segmentsDirectory),
        (.open, .retentionRewrite), (.write, .retentionRewrite), (.shortWrite, .retentionRewrite), (.fsync, .retentionRewrite),
        (.rename, .retentionRewrite),
    ]

    @Test("a retention prune that cannot write throws, leaves every segment whole and every kept record once; the next prune finishes it",
          arguments: retentionSteps.indices, errors)
    func retention(step index: Int, error code: Int32) throws {
        // Seventy days expire: six segments go whole, the seventh is rewritten without its first half.
        let (directory, all) = try RetentionTests.store(segmentDays: 10)
        defer { FileFaults.clear(under: directory.path) }
        let policy = try RetentionTests.policy("retention:\n  max_age: {metric: 35d, window: 35d, token_usage: 35d}\n  allow_mass_delete: true\n")
        let kept = all.filter { !policy.isExpired($0.kind, tenant: $0.tenantID, time: $0.timestamp.microseconds, now: RetentionTests.now) }
        let pruner = RetentionPruner(directory: directory, policy: policy, segmentBytes: 1 << 20)

        let (operation, files) = Self.retentionSteps[index]
        let fault = FileFaults.arm(FileFault(operation, files, errno: code, under: directory.path))
        #expect {
            try pruner.prune(now: RetentionTests.now)
        } throws: { error in
            "\(error)".contains(Self.reason(code)) && "\(error)".contains(directory.segmentsPath)
        }
        #expect(fault.fired > 0)
        // Readable and whole meanwhile: what the prune did not get to is still there, once.
        let during = try StoreReader(directory: directory).records(StoreQuery())
        #expect(Set(kept).isSubset(of: Set(during)))
        #expect(Set(during).count == during.count, "no record twice")
        try Self.expectWhole(directory)

        fault.clear()
        _ = try pruner.prune(now: RetentionTests.now)
        let after = try StoreReader(directory: directory).records(StoreQuery())
        #expect(Set(after) == Set(kept) && after.count == kept.count)
        try Self.expectWhole(directory)
    }

    static let tierSteps: [Step] = [
        (.open, .tier), (.write, .tier), (.shortWrite, .tier), (.fsync, .tier), (.rename, .tier), (.directorySync, .tier),
    ]

    @Test("a tier roll-up that cannot write throws and leaves the tier as it was; the next run writes exactly the windows a clean run does",
          arguments: tierSteps.indices, errors)
    func tierRollup(step index: Int, error code: Int32) throws {
        let now = TiersTests.t0 + .days(1)
        // The first hour is rolled up; then a second hour of windows arrives.
        let (directory, tiers) = try Self.tiered()
        defer { FileFaults.clear(under: directory.path) }
        let tier = tiers.tiers[0].directory
        _ = try tiers.rollUp(now: now, level: 3)
        let before = try TiersTests.windows(tier)
        #expect(before.count == 2)
        try Self.addWindows(directory, minutes: 90..<150)

        let (operation, files) = Self.tierSteps[index]
        let fault = FileFaults.arm(FileFault(operation, files, errno: code, under: directory.path))
        #expect {
            try tiers.rollUp(now: now, level: 3)
        } throws: { error in
            "\(error)".contains(Self.reason(code)) && "\(error)".contains("/tiers/1h")
        }
        #expect(fault.fired > 0)
        if operation != .directorySync {
            #expect(try TiersTests.windows(tier) == before, "the tier is as it was")
        }
        try Self.expectWhole(tier)
        #expect(try TiersTests.windows(directory).count == 300, "the base reads as before")

        fault.clear()
        _ = try tiers.rollUp(now: now, level: 3)
        let (clean, cleanTiers) = try Self.tiered()
        try Self.addWindows(clean, minutes: 90..<150)
        _ = try cleanTiers.rollUp(now: now, level: 3)
        let rolled = try TiersTests.windows(tier).map { [$0.span.start.microseconds, Int64($0.count)] }
        #expect(rolled.count == 4)
        #expect(rolled == (try TiersTests.windows(cleanTiers.tiers[0].directory).map { [$0.span.start.microseconds, Int64($0.count)] }))
        try Self.expectWhole(tier)
    }

    /// Ninety minutes of 1m windows of two series, with a 1h tier.
    static func tiered() throws -> (DataDirectory, Tiers) {
        let (directory, _) = try TiersTests.base(minutes: 90)
        return (directory, try TiersTests.tiers(directory, [(.hours(1), .days(400))]))
    }

    /// Windows of the same two series for `minutes`, in a new sealed segment.
    static func addWindows(_ directory: DataDirectory, minutes: Range<Int>) throws {
        var records: [StoredRecord] = []
        for m in minutes {
            for host in ["a", "b"] {
                let span = WindowSpan(length: .minutes(1), start: TiersTests.t0 + .minutes(Int64(m)))
                records.append(.output(.window(WindowSummary(span: span, series: SeriesKey(tenantID: "t", name: "cpu", labels: ["host": host]),
                                                             count: 1, sum: 1, min: 1, max: 1, p50: 1, p90: 1, p95: 1, p99: 1))))
            }
        }
        let appender = try directory.createSegment()
        try appender.append(try BlockFrame.build(records, level: 1).bytes)
        _ = try appender.seal()
    }

    static let tokenSteps: [Step] = [
        (.open, .tokenCheckpoint), (.write, .tokenCheckpoint), (.shortWrite, .tokenCheckpoint), (.fsync, .tokenCheckpoint),
        (.rename, .tokenCheckpoint), (.directorySync, .tokenCheckpoint),
    ]

    @Test("a token checkpoint that cannot be written is reported and leaves the last one whole; metering goes on, and the next batch writes it",
          arguments: tokenSteps.indices, errors)
    func tokenCheckpoint(step index: Int, error code: Int32) async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-faults"), create: true)
        defer { FileFaults.clear(under: directory.path) }
        let file = try TokenMeterStateFile(directory: directory)
        let reports = Watched<[String]>([])
        let meter = try TokenMeter(configuration: .init(), persistence: file, counters: PipelineCounters(), checkpointEvery: 1) { line in
            reports.update { $0.append(line) }
        }
        let input = BoundedChannel<[StageEvent]>(capacity: 4)
        let output = BoundedChannel<[StageEvent]>(capacity: 4)
        let task = Task { try await meter.run(input: input, output: output) }
        var metered = output.makeAsyncIterator()
        func count(_ i: Int) async throws -> [StageEvent]? {
            let record = TokenUsageRecord(timestamp: Timestamp(microseconds: StoreTestSupport.t0 + Int64(i) * 1_000_000), tenantID: "t",
                                          model: "m", promptTokens: 10, completionTokens: 5, requestID: "r\(i)")
            try await input.send([.tokenUsage(record)])
            return await metered.next()
        }
        func requests() throws -> Int? { try file.load()?.months.values.reduce(0) { $0 + Int($1.requests) } }

        #expect(try await count(0) != nil)
        #expect(try requests() == 1)
        let (operation, files) = Self.tokenSteps[index]
        let fault = FileFaults.arm(FileFault(operation, files, errno: code, under: directory.path))
        #expect(try await count(1) != nil, "metering goes on")
        #expect(fault.fired > 0)
        #expect(reports.value.contains { $0.contains("token meter checkpoint not written") && $0.contains(Self.reason(code)) }, "\(reports.value)")
        if operation != .directorySync {
            #expect(try requests() == 1, "the last checkpoint is whole")
        }
        #expect(try FileIO.list(directory.path + "/tokens") == ["meter.state"], "no temporary file left")

        fault.clear()
        #expect(try await count(2) != nil)
        #expect(try requests() == 3, "the next batch's checkpoint holds everything")
        input.finish()
        try await task.value
    }

    @Test("a checkpoint an alert asked for that fails is tried again with the very next batch, not only after checkpoint_every records")
    func alertCheckpointRetried() async throws {
        let directory = try DataDirectory(path: TestFiles.temporaryDirectory("sluice-faults"), create: true)
        defer { FileFaults.clear(under: directory.path) }
        let file = try TokenMeterStateFile(directory: directory)
        var configuration = TokenMeter.Configuration()
        configuration.budgets["t"] = .init(monthlyTokens: 20, monthlyMicroUSD: nil, thresholds: [0.5])
        let meter = try TokenMeter(configuration: configuration, persistence: file, counters: PipelineCounters(), checkpointEvery: 1_000) { _ in }
        let input = BoundedChannel<[StageEvent]>(capacity: 4)
        let output = BoundedChannel<[StageEvent]>(capacity: 4)
        let task = Task { try await meter.run(input: input, output: output) }
        var metered = output.makeAsyncIterator()
        func count(_ i: Int) async throws {
            let record = TokenUsageRecord(timestamp: Timestamp(microseconds: StoreTestSupport.t0 + Int64(i) * 1_000_000), tenantID: "t",
                                          model: "m", promptTokens: 10, completionTokens: 5, requestID: "r\(i)")
            try await input.send([.tokenUsage(record)])
            _ = await metered.next()
        }
        let fault = FileFaults.arm(FileFault(.write, .tokenCheckpoint, errno: EIO, under: directory.path))
        try await count(0)  // 15 of 20 tokens: the 50% alert, whose checkpoint fails
        #expect(fault.fired > 0)
        #expect(try file.load() == nil)
        fault.clear()
        try await count(1)  // no alert, far below checkpoint_every
        #expect(try file.load()?.firedAlerts.count == 1, "the alert is on disk before another batch goes by")
        input.finish()
        try await task.value
    }

    static let recoverySteps: [Step] = [(.truncate, .openSegment), (.rename, .openSegment), (.directorySync, .segmentsDirectory)]

    @Test("recovery at start that cannot write throws (the command exits non-zero) and changes nothing it has not finished; the next start makes the store whole",
          arguments: recoverySteps.indices, errors)
    func recovery(step index: Int, error code: Int32) throws {
        let (directory, segment, ends) = try StoreTestSupport.openSegment(blocks: 3, perBlock: 10)
        defer { FileFaults.clear(under: directory.path) }
        // A crash in the middle of the fourth block.
        let fd = open(segment.path, O_WRONLY | O_APPEND)
        _ = [UInt8](repeating: 7, count: 40).withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)

        let (operation, files) = Self.recoverySteps[index]
        let fault = FileFaults.arm(FileFault(operation, files, errno: code, under: directory.path))
        #expect {
            try directory.recoverOpenSegments()
        } throws: { error in
            "\(error)".contains(Self.reason(code)) && "\(error)".contains(directory.segmentsPath)
        }
        #expect(fault.fired > 0)
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 30, "the whole blocks read as before")

        fault.clear()
        let cuts = try directory.recoverOpenSegments()
        #expect(cuts.map(\.offset) == (operation == .truncate ? [ends[2]] : []), "a cut made before the failure is not made twice")
        try Self.expectWhole(directory)
        #expect(try StoreReader(directory: directory).records(StoreQuery()).count == 30)
    }

    /// Every segment of `directory` sealed and whole, nothing temporary beside them.
    static func expectWhole(_ directory: DataDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in try FileIO.list(directory.segmentsPath) {
            #expect(name.hasSuffix(".seg"), "\(name) left in \(directory.segmentsPath)", sourceLocation: sourceLocation)
        }
        for segment in try directory.segments() {
            let damage = try segment.scan(verify: true).damage
            #expect(damage == nil, "\(segment.name): \(damage?.reason ?? "")", sourceLocation: sourceLocation)
        }
    }
}
