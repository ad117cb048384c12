import Foundation
import Testing
import SluiceTesting

/// The README's examples, run the way doc tests are, so that none can rot.
///
/// Every ```` ```sh ```` block of README.md runs in `bash -euo pipefail` from the repository
/// root, with these substitutions (the README's own text is what a user pastes):
/// - `swift run sluice` and `.build/debug/` name the binaries built beside this test bundle;
///   `swift build --product …` is `true` (they are built). No `swift` command is left to run.
/// - The ports 8080 (HTTP), 9000 (TCP), 8081 (the example app) and 8125 (StatsD) are free
///   loopback ports of this run, and `/tmp/` is a fresh directory.
/// - A block that talks to port 8080 without starting `sluice serve` runs against one this test
///   starts with `--config Fixtures/demo/sluice.yml` and a StatsD listener.
/// - A block is skipped only when the line before it is `<!-- doc-test: skip (reason) -->`.
///
/// Each block must exit 0, and `expectations` check the results its comments state. Every
/// process a block starts in the background is stopped by PID when it ends (an `EXIT` trap);
/// `timeout` runs it in a process group of its own, which it kills if the block hangs.
@Suite("README examples", .timeLimit(.minutes(5)))
struct ReadmeExampleTests {
    struct Block: Sendable, CustomTestStringConvertible {
        /// The line of the opening fence, from 1.
        var line: Int
        var text: String
        /// Why it is not run; `nil` when it is.
        var skipped: String?

        var testDescription: String { "README.md line \(line)" }
        /// Talks to a server that it does not start itself.
        var needsServer: Bool { text.contains(":8080") && !text.contains("sluice serve") }
    }

    static let root = FixtureLocator.repositoryRoot()
    static let blocks = parse(TestFiles.readString(root + "/README.md") ?? "")
    static let runnable = blocks.filter { $0.skipped == nil }

    /// The `sh` blocks of `markdown`, with their skip annotations.
    static func parse(_ markdown: String) -> [Block] {
        var blocks: [Block] = []
        var current: Block?
        var previous = ""
        for (index, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if var block = current {
                if line == "```" {
                    blocks.append(block)
                    current = nil
                } else {
                    block.text += line + "\n"
                    current = block
                }
            } else if line == "```sh" {
                current = Block(line: index + 1, text: "", skipped: skipReason(previous))
            }
            previous = String(line)
        }
        return blocks
    }

    /// `reason` of a line `<!-- doc-test: skip (reason) -->`.
    static func skipReason(_ line: String) -> String? {
        let prefix = "<!-- doc-test: skip (", suffix = ") -->"
        guard line.hasPrefix(prefix), line.hasSuffix(suffix), line.count > prefix.count + suffix.count else { return nil }
        return String(line.dropFirst(prefix.count).dropLast(suffix.count))
    }

    @Test("every sh block is run, or skipped by an annotation that says why; every stated result is checked")
    func inventory() throws {
        let markdown = try #require(TestFiles.readString(Self.root + "/README.md"))
        // An example in a block labelled otherwise would escape the test.
        for label in ["```bash", "```shell", "```console", "```zsh"] { #expect(!markdown.contains(label + "\n"), "\(label) block") }
        // Every annotation sits right before a block it applies to.
        #expect(markdown.split(separator: "\n").count { $0.hasPrefix("<!-- doc-test:") } == Self.blocks.count { $0.skipped != nil })
        #expect(Self.blocks.count == 11)
        #expect(Self.runnable.count == 7)
        #expect(Self.runnable.count { $0.needsServer } == 4)
        #expect(Self.blocks.compactMap(\.skipped).map { String($0.prefix(while: { $0 != ";" })) }
                == ["builds and runs the tests themselves", "installs from PyPI", "needs Debian's prometheus and waits for its scrapes",
                    "starts servers that run until stopped"],
                "a block was skipped or unskipped")
        for expectation in Self.expectations {
            #expect(Self.runnable.count { $0.text.contains(expectation.marker) } == 1, "\(expectation.name): its example is gone or doubled")
        }
    }

    @Test("the example exits 0 and shows what README.md says", arguments: runnable)
    func example(_ block: Block) async throws {
        let dir = TestFiles.temporaryDirectory("sluice-readme")
        var ports = ["8080": ServeAndTailTests.freePort(), "9000": ServeAndTailTests.freePort(),
                     "8081": ServeAndTailTests.freePort(), "8125": ServeAndTailTests.freePort()]
        var server: ServerProcess?
        if block.needsServer {
            let started = try ServerProcess(arguments: ["serve", "--config", "Fixtures/demo/sluice.yml", "--http", "127.0.0.1:0",
                                                        "--statsd-udp", "127.0.0.1:0", "--data-dir", dir + "/server-data"])
            server = started
            ports["8080"] = started.http
            let after: String? = started.stderr.components(separatedBy: "statsd udp 127.0.0.1:").dropFirst().first
            let statsd: Int = try #require(after.flatMap { Int(String($0.prefix { $0.isNumber })) }, "no StatsD port in: \(started.stderr)")
            ports["8125"] = statsd
        }
        let script = try Self.script(block.text, ports: ports, temporary: dir + "/tmp")
        let output: SluiceBinary.Output
        do {
            output = try await Self.run(script)
        } catch {
            _ = try? await server?.terminate()
            throw error
        }
        if let server { #expect(try await server.terminate() == 0, "\(server.stderr.suffix(2_000))") }
        #expect(output.status == 0, "exit status \(output.status)\nstdout: \(output.stdout.suffix(3_000))\nstderr: \(output.stderr.suffix(3_000))")
        for expectation in Self.expectations where block.text.contains(expectation.marker) {
            try expectation.check(output.stdout)
        }
    }

    /// The block as it runs here (see the suite's comment).
    static func script(_ text: String, ports: [String: Int], temporary: String) throws -> String {
        // `/tmp/` first: the README's own paths, not the binaries' (a checkout may live in /tmp).
        var body = text.replacingOccurrences(of: "/tmp/", with: temporary + "/")
        body = body.replacingOccurrences(of: "swift run sluice", with: SluiceBinary.path)
        body = body.replacingOccurrences(of: #"swift build --product [A-Za-z-]+"#, with: "true", options: .regularExpression)
        let built = URL(fileURLWithPath: SluiceBinary.path).deletingLastPathComponent().path
        body = body.replacingOccurrences(of: ".build/debug/", with: built + "/")
        for (port, free) in ports {
            body = body.replacingOccurrences(of: ":\(port)", with: ":\(free)")
            body = body.replacingOccurrences(of: "127.0.0.1 \(port)", with: "127.0.0.1 \(free)")
        }
        // Nothing may build or test from here: the binaries are those under test.
        let swift = try Regex(#"(^|[;&|(]\s*)swift\s"#).anchorsMatchLineEndings()
        try #require(body.firstMatch(of: swift) == nil, "a swift command is left in:\n\(body)")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let stop = #"trap 'for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done; wait' EXIT"#
        return stop + "\n" + body
    }

    /// Runs `script` under `timeout` (its own process group, killed whole past two minutes),
    /// then kills whatever of that group is left.
    static func run(_ script: String) async throws -> SluiceBinary.Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "120", "/bin/bash", "-euo", "pipefail", "-c", script]
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.spawn()
        let group = process.processIdentifier
        async let errors = offThePool { err.fileHandleForReading.readDataToEndOfFile() }
        async let output = offThePool { out.fileHandleForReading.readDataToEndOfFile() }
        try await offThePool { process.waitUntilExit() }
        // `timeout` made the group; anything a block left behind in it (and holding the pipes
        // open) goes now.
        _ = kill(-group, SIGKILL)
        let (stdout, stderr) = try await (output, errors)
        return SluiceBinary.Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                                   stderr: String(decoding: stderr, as: UTF8.self))
    }
}

extension ReadmeExampleTests {
    /// A result README.md states beside an example, checked on that block's output. `marker`
    /// is text of the one block it belongs to.
    struct Expectation: Sendable {
        var name: String
        var marker: String
        var check: @Sendable (_ stdout: String) throws -> Void
    }

    static let expectations: [Expectation] = [
        Expectation(name: "--strict stops at the first bad line with exit status 65", marker: #"--strict || echo "exit status $?""#) { out in
            #expect(out.contains("\nexit status 65\n"))
        },
        Expectation(name: "detect's highest score is row 81, the spike to 50", marker: "sluice detect /tmp/series.csv") { out in
            let rows = out.split(separator: "\n").filter { $0.hasPrefix("2026-11-24 10:") }.map { $0.split(separator: ",") }
            #expect(rows.count == 3)
            #expect(rows.last.map { $0.prefix(2).joined(separator: ",") } == "2026-11-24 10:1:20,50")
            #expect(rows.allSatisfy { Double($0.last ?? "") ?? 2 <= Double(rows.last?.last ?? "") ?? -1 })
        },
        Expectation(name: "the demo's config forecasts, then raises shop-eu's 0.5 token-budget alert, and prices both models", marker: #"grep -E 'budget_|"period":"month"'"#) { out in
            // The block also replays Fixtures/tokens (other tenants): the demo's tenant is shop-eu.
            let records = jsonLines(out).filter { $0["tenant_id"] as? String == "shop-eu" }
            let alerts = records.filter { $0["type"] as? String == "budget_alert" }
            #expect(alerts.count == 1)
            #expect(alerts.first?["tenant_id"] as? String == "shop-eu")
            #expect(alerts.first?["threshold"] as? Double == 0.5)
            #expect(alerts.first?["budget_tokens"] as? Int == 1_000_000)
            // As the README says: forecasts at 10:02, and the 50% token forecast two seconds
            // before the alert's record.
            let forecasts = records.filter { $0["type"] as? String == "budget_forecast" }
            #expect(!forecasts.isEmpty && forecasts.allSatisfy { ($0["timestamp"] as? String)?.hasPrefix("2026-11-24T10:02") == true })
            let half = forecasts.first { $0["threshold"] as? Double == 0.5 && $0["budget_tokens"] != nil }
            #expect(half?["reached_at"] as? String == "2026-11-24T10:04:26Z" && (alerts.first?["timestamp"] as? String)?.hasPrefix("2026-11-24T10:04:28") == true)
            let months = records.filter { $0["type"] as? String == "token_usage" && $0["period"] as? String == "month" }
            #expect(Set(months.compactMap { $0["model"] as? String }) == ["claude-sonnet", "gpt-4o"])
            #expect(months.allSatisfy { $0["cost_usd"] is Double })
        },
        Expectation(name: "the server's query shows the demo's closed windows 10:00 to 10:04, then the open one", marker: "route=/checkout&settle=") { out in
            let lines = out.split(separator: "\n").map(String.init)
            let posted = try #require(lines.first { $0.hasPrefix(#"{"accepted":"#) }.flatMap(jsonObject), "no answer to the POST in:\n\(out)")
            let rejected = Set((posted["rejected"] as? [[String: Any]] ?? []).compactMap { $0["line"] as? Int })
            let answer = try #require(lines.first { $0.hasPrefix("[") && $0.contains(#""route":"/checkout""#) }.flatMap(jsonArray), "no performance answer in:\n\(out)")
            let expected = try demoCheckoutCounts(skipping: rejected)
            let shown = answer.map { window in
                WindowCount(start: window["start"] as? String ?? "", count: (window["response_time"] as? [String: Any])?["count"] as? Int ?? -1,
                            open: window["partial"] as? Bool == true)
            }
            #expect(shown == expected)
            #expect(shown.filter { !$0.open }.map(\.start) == (0...4).map { "2026-11-24T10:0\($0):00Z" })
        },
        Expectation(name: "the server prices the demo's token usage and shows shop-eu's budget used", marker: "analytics/tokens'   # cost per model") { out in
            let usage = try #require(out.split(separator: "\n").map(String.init).first { $0.hasPrefix(#"[{"tenant_id":"shop-eu""#) }.flatMap(jsonArray))
            let prices = ["gpt-4o": (2.5, 10.0), "claude-sonnet": (3.0, 15.0)]
            #expect(usage.count == 2)
            for model in usage {
                let price = try #require(prices[model["model"] as? String ?? ""])
                let cost = Double(model["prompt_tokens"] as? Int ?? 0) * price.0 / 1e6 + Double(model["completion_tokens"] as? Int ?? 0) * price.1 / 1e6
                #expect(abs((model["cost_usd"] as? Double ?? 0) - cost) <= 1e-6)
                let budget = model["budget"] as? [String: Any]
                #expect(budget?["monthly_tokens"] as? Int == 1_000_000)
                #expect(abs((budget?["tokens_used_percent"] as? Double ?? 0) - 57.0111) < 1e-9)
            }
        },
        Expectation(name: "the tiers are 1d and 1h", marker: "ls /tmp/sluice-tiers/tiers") { out in
            #expect(out.hasSuffix("1d\n1h\n"))
        },
        Expectation(name: "Sluice counts what the example app counted, and a repeated request id once", marker: "localhost:8081/stats") { out in
            let lines = out.split(separator: "\n").map(String.init)
            let stats = try #require(lines.first { $0.hasPrefix("{") && $0.contains(#""requests":{"#) }.flatMap(jsonObject), "no /stats in:\n\(out)")
            let served = (stats["requests"] as? [String: Any])?["/items/{id}"] as? Int
            #expect(served == 400)
            let performance = try #require(lines.first { $0.hasPrefix(#"[{"window""#) }.flatMap(jsonArray))
            let counted = performance.reduce(0) { $0 + (($1["response_time"] as? [String: Any])?["count"] as? Int ?? 0) }
            #expect(counted == served)
            let tokens = try #require(lines.first { $0.hasPrefix(#"[{"tenant_id":"example""#) }.flatMap(jsonArray))
            #expect(tokens.map { $0["requests"] as? Int } == [1])
        },
        Expectation(name: "Influx writes answer 204, and 400 naming the bad line", marker: "api/v2/write?org=my-org") { out in
            #expect(out.contains("HTTP/1.1 204 No Content"))
            #expect(out.contains(#"{"code":"invalid""#))
            #expect(out.contains("line 2"))
        },
        Expectation(name: "the Prometheus API answers quantile_over_time", marker: "quantile_over_time(0.99,response_time[1h])") { out in
            #expect(jsonObject(out.trimmingCharacters(in: .whitespacesAndNewlines))?["status"] as? String == "success")
        },
    ]

    struct WindowCount: Equatable, CustomStringConvertible {
        var start: String
        var count: Int
        var open: Bool
        var description: String { "\(start): \(count)\(open ? " (open)" : "")" }
    }

    /// The oracle for the serve example: `performance` samples of shop-eu on /checkout per
    /// 1m window, as the POST of Fixtures/demo/input.ndjson feeds them in file order (the
    /// lines it refused left out): a sample whose window has already closed (its end at or
    /// before the largest time seen minus the default 5 s lateness) is late and not counted;
    /// windows that end by then are closed, the rest open.
    static func demoCheckoutCounts(skipping rejected: Set<Int>) throws -> [WindowCount] {
        let text = try #require(TestFiles.readString(FixtureLocator.fixtures() + "/demo/input.ndjson"))
        let iso = ISO8601DateFormatter(), fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var watermark = -Double.infinity, latest = -Double.infinity
        var counts: [Double: Int] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty && !rejected.contains(index + 1) {
            let record = try #require(jsonObject(String(line)), "line \(index + 1)")
            let stamp = try #require(record["timestamp"] as? String)
            let time = try #require((fractional.date(from: stamp) ?? iso.date(from: stamp))?.timeIntervalSince1970)
            let start = (time / 60).rounded(.down) * 60
            if start + 60 > watermark, record["type"] as? String == "performance", record["tenant_id"] as? String == "shop-eu",
               record["route"] as? String == "/checkout", record["response_time"] != nil {
                counts[start, default: 0] += 1
            }
            if time > latest {
                latest = time
                watermark = latest - 5
            }
        }
        return counts.keys.sorted().map { start in
            WindowCount(start: iso.string(from: Date(timeIntervalSince1970: start)), count: counts[start]!, open: start + 60 > watermark)
        }
    }

    static func jsonObject(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    static func jsonArray(_ text: String) -> [[String: Any]]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
    }

    /// The lines of `text` that are JSON objects.
    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { jsonObject(String($0)) }
    }
}
