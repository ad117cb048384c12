import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceStore

/// `tokens/meter.state` across versions: version 2 keeps the burn-rate windows and the
/// forecasts raised; a version-1 checkpoint, written by Sluice before forecasts, still loads.
@Suite("Token meter checkpoint")
struct TokenMeterStateFileTests {
    static let hour: Int64 = 3_600_000_000
    static let t0: Int64 = 1_794_268_800_000_000  // 2026-11-10T00:00:00Z

    static func configuration() -> TokenMeter.Configuration {
        var c = TokenMeter.Configuration()
        c.prices["m"] = .init(prompt: 1_000_000, completion: 1_000_000)
        c.budgets["site-a"] = .init(monthlyTokens: 1_000_000, monthlyMicroUSD: 20_000_000, thresholds: [0.5, 0.8, 1.0])
        return c
    }

    static func record(_ i: Int, at time: Int64, tokens: UInt64) -> TokenUsageRecord {
        TokenUsageRecord(timestamp: Timestamp(microseconds: time), tenantID: "site-a", model: "m", promptTokens: tokens,
                         completionTokens: 0, requestID: "r\(i)")
    }

    static func directory() throws -> DataDirectory {
        try DataDirectory(path: TestFiles.temporaryDirectory("sluice-tokens"), create: true)
    }

    @Test("a version-2 checkpoint keeps the burn-rate windows and the forecasts raised, exactly")
    func roundTrip() throws {
        var machine = TokenMeter.StateMachine(configuration: Self.configuration())
        var events: [StageEvent] = []
        for i in 0..<30 { _ = machine.record(Self.record(i, at: Self.t0 + Int64(i) * Self.hour / 2, tokens: 10_000 + UInt64(i)), into: &events) }
        #expect(!machine.state.burn.isEmpty && !machine.state.firedForecasts.isEmpty)
        let file = try TokenMeterStateFile(directory: try Self.directory())
        try file.save(machine.state)
        #expect(try #require(TestFiles.read(file.path))[8] == 2)
        let loaded = try #require(try file.load())
        #expect(loaded == machine.state)

        // The restored meter carries on where it was: the same forecasts as without the restart.
        var restored = TokenMeter.StateMachine(configuration: Self.configuration(), restoring: loaded)
        #expect(restored.forecasts() == machine.forecasts())
        var a: [StageEvent] = [], b: [StageEvent] = []
        _ = machine.record(Self.record(99, at: Self.t0 + 20 * Self.hour, tokens: 300_000), into: &a)
        _ = restored.record(Self.record(99, at: Self.t0 + 20 * Self.hour, tokens: 300_000), into: &b)
        #expect(a == b)
    }

    @Test("a version-1 checkpoint (Fixtures/token-checkpoint-v1, Fixtures/tokens replayed before forecasts) loads with its totals and alerts, and no forecasts")
    func versionOne() throws {
        let directory = try Self.directory()
        let bytes = try #require(TestFiles.read("\(FixtureLocator.fixtures())/token-checkpoint-v1/meter.state"))
        #expect(bytes[8] == 1, "the fixture is a version-1 checkpoint")
        try directory.writeFile("tokens/meter.state", bytes)
        let file = try TokenMeterStateFile(directory: directory)
        let state = try #require(try file.load())

        // As Fixtures/tokens/expected.ndjson reports them.
        let november: Int64 = 1_793_491_200_000_000  // 2026-11-01T00:00:00Z
        let gpt = state.closedPeriods[.init(tenantID: "site-a", model: "gpt-4o", period: .month, start: november)]
        #expect(gpt?.requests == 2 && gpt?.prompt == 3_010 && gpt?.completion == 510 && gpt?.cached == 1_000)
        #expect(state.firedAlerts == [.init(tenantID: "site-a", month: november, threshold: 0.5, usd: false)])
        #expect(state.dedupe.count == 7)
        #expect(state.burn.isEmpty && state.firedForecasts.isEmpty)

        // Saved again, it is version 2 and loads the same.
        try file.save(state)
        #expect(try #require(TestFiles.read(file.path))[8] == 2)
        #expect(try file.load() == state)
    }

    @Test("a checkpoint of a later version is refused with the versions this Sluice reads")
    func laterVersion() throws {
        let directory = try Self.directory()
        var bytes = try #require(TestFiles.read("\(FixtureLocator.fixtures())/token-checkpoint-v1/meter.state"))
        bytes[8] = 3
        try directory.writeFile("tokens/meter.state", bytes)
        let file = try TokenMeterStateFile(directory: directory)
        #expect {
            _ = try file.load()
        } throws: { error in
            "\(error)".contains("checkpoint version 3") && "\(error)".contains("reads versions 1 to 2")
        }
    }
}
