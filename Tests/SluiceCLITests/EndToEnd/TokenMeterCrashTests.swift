import Foundation
import Testing
import SluiceTesting

/// The token meter's durability through the real binary: kill -9 mid-stream, restart, feed
/// the whole input again.
@Suite("Token meter crash", .serialized)
struct TokenMeterCrashTests {
    static func workload(_ count: Int) -> String {
        var lines: [String] = []
        lines.reserveCapacity(count)
        let base = 1_795_514_400
        for i in 0..<count {
            let tenant = ["site-a", "site-b", "site-c"][i % 3]
            let model = ["gpt-4o", "small"][(i / 3) % 2]
            lines.append(#"{"type":"token_usage","timestamp":\#(base + i / 10),"tenant_id":"\#(tenant)","model":"\#(model)","prompt_tokens":\#(100 + i % 97),"completion_tokens":\#(i % 31),"request_id":"r\#(i)"}"#)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let config = """
        tokens:
          pricing:
            gpt-4o: {prompt_per_million_usd: 2.5, completion_per_million_usd: 10}
            small: {prompt_per_million_usd: 0.15, completion_per_million_usd: 0.6}
          budgets:
            site-a: {monthly_tokens: 20000000, monthly_usd: 20, thresholds: [0.1, 0.25, 0.5, 0.75, 1.0]}
        store:
          flush_records: 2000
        """

    /// What an alert or a forecast announces: tenant, month, threshold and whether of tokens
    /// or dollars.
    static func announcement(_ line: String) -> String {
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return "\(object["tenant_id"] ?? "") \(object["start"] ?? "") \(object["threshold"] ?? "") \(object["budget_usd"] == nil ? "tokens" : "usd")"
    }

    static func lines(_ output: String, _ type: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(#"{"type":"\#(type)""#) }
    }

    @Test("kill -9, restart, re-feed everything: identical month totals, no alert or forecast raised twice")
    func killAndRefeed() async throws {
        let dir = TestFiles.temporaryDirectory()
        let input = "\(dir)/tokens.ndjson"
        _ = TestFiles.write(input, Self.workload(300_000))
        _ = TestFiles.write("\(dir)/sluice.yml", Self.config)

        // The reference: one clean run.
        let clean = try await SluiceBinary.run(["replay", input, "--config", "\(dir)/sluice.yml", "--data-dir", "\(dir)/clean"])
        #expect(clean.status == 0)
        let expectedMonths = Self.lines(clean.stdout, "token_usage").filter { $0.contains(#""period":"month""#) }
        let expectedAlerts = Self.lines(clean.stdout, "budget_alert")
        #expect(expectedAlerts.count >= 5, "every threshold of both budgets is crossed")
        let expectedForecasts = Self.lines(clean.stdout, "budget_forecast")
        #expect(!expectedForecasts.isEmpty, "an hour into the input, the burn rate forecasts thresholds")

        // Killed mid-stream.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        process.arguments = ["run", "--config", "\(dir)/sluice.yml", "--data-dir", "\(dir)/crash"]
        process.standardInput = FileHandle(forReadingAtPath: input)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.spawn()
        // Killed mid-stream: once it has raised its second alert (a checkpoint is on disk by
        // then, since alerts are checkpointed before they are written).
        var firstOutput = ""
        while firstOutput.components(separatedBy: #""type":"budget_alert""#).count < 3 {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            firstOutput += String(decoding: chunk, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGKILL)
        firstOutput += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: "\(dir)/crash/tokens/meter.state"))
        #expect(!firstOutput.contains(#""type":"summary""#), "killed before the end")

        // Restart on the same data directory and feed the whole input again.
        let second = try await SluiceBinary.run(["run", "--config", "\(dir)/sluice.yml", "--data-dir", "\(dir)/crash"], stdinFile: input)
        #expect(second.status == 0)
        #expect(Self.lines(second.stdout, "token_usage").filter { $0.contains(#""period":"month""#) } == expectedMonths)
        // Each threshold is raised once in all. An alert crossed while the restart rebuilds
        // from the store may name another crossing record than the clean run did (the store
        // keeps event time, not arrival order), so alerts are compared by what they announce.
        let alerts = (Self.lines(firstOutput, "budget_alert") + Self.lines(second.stdout, "budget_alert")).map(Self.announcement)
        #expect(Set(alerts).count == alerts.count, "no alert twice: \(alerts)")
        #expect(Set(alerts) == Set(expectedAlerts.map(Self.announcement)), "every threshold crossed is announced")
        // Likewise each forecast: the ones raised before the kill are in the checkpoint.
        let forecasts = (Self.lines(firstOutput, "budget_forecast") + Self.lines(second.stdout, "budget_forecast")).map(Self.announcement)
        #expect(Self.lines(firstOutput, "budget_forecast").count > 0, "killed after the first forecasts")
        #expect(Set(forecasts).count == forecasts.count, "no forecast twice: \(forecasts)")
        #expect(Set(forecasts) == Set(expectedForecasts.map(Self.announcement)))
        #expect(second.stdout.contains(#""token_duplicates":"#))
    }
}
