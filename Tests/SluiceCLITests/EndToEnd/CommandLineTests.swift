#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Testing
import SluiceTesting
import SluiceModel

@Suite("Command line")
struct CommandLineTests {
    let line = #"{"metric_name":"m","value":1,"timestamp":"2026-11-24T10:00:00Z"}"#

    @Test("--strict stops at the first bad line with status 65, after reporting it")
    func strict() async throws {
        let input = "\(line)\nbroken\n\(line)\n"
        let result = try await SluiceBinary.run(["run", "--strict"], stdin: Data(input.utf8))
        #expect(result.status == 65)
        #expect(result.stderr == "line 2: invalid JSON at column 1: expected '{', found 'b'\n")
        // What came before the bad line is still aggregated and summarised.
        #expect(result.stdout.contains(#""count":1,"#))
        #expect(result.stdout.contains(#""type":"summary","records":1,"errors":1"#))
    }

    @Test("without --strict, bad lines are reported and the run succeeds")
    func lenient() async throws {
        let input = "\(line)\nbroken\n\n\(line)\n"
        let result = try await SluiceBinary.run(["run"], stdin: Data(input.utf8))
        #expect(result.status == 0)
        #expect(result.stderr == "line 2: invalid JSON at column 1: expected '{', found 'b'\n")
        #expect(result.stdout.contains(#""count":2,"#))
    }

    @Test("a missing timestamp is the read time in run, an error in replay")
    func missingTimestamp() async throws {
        let path = TestFiles.temporaryDirectory() + "/no-ts.ndjson"
        _ = TestFiles.write(path, #"{"metric_name":"m","value":1}"# + "\n")
        let replay = try await SluiceBinary.run(["replay", path])
        #expect(replay.stderr.contains("line 1: missing field \"timestamp\""))
        let run = try await SluiceBinary.run(["run"], stdin: Data((#"{"metric_name":"m","value":1}"# + "\n").utf8))
        #expect(run.stderr.isEmpty)
        #expect(run.stdout.contains(#""metric_name":"m""#))
    }

    @Test("bad options and configuration are refused with a message naming the problem")
    func badOptions() async throws {
        let window = try await SluiceBinary.run(["run", "--window", "soon"])
        #expect(window.status != 0)
        #expect(window.stderr.contains("--window soon"))
        let dir = TestFiles.temporaryDirectory()
        _ = TestFiles.write(dir + "/bad.yml", "pipeline:\n  lateness: 5 seconds\n")
        let config = try await SluiceBinary.run(["run", "--config", dir + "/bad.yml"])
        #expect(config.status != 0)
        #expect(config.stderr.contains("pipeline.lateness"))
        let missing = try await SluiceBinary.run(["replay", "/nonexistent.ndjson"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent.ndjson"))
    }

    @Test("--output writes the replay to a file")
    func outputFile() async throws {
        let out = TestFiles.temporaryDirectory() + "/out.ndjson"
        let result = try await SluiceBinary.run(["replay", "Fixtures/demo/input.ndjson", "--output", out])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(TestFiles.readString(out) == TestFiles.readString(FixtureLocator.fixtures() + "/demo/expected.ndjson"))
    }

    @Test("help explains each command", arguments: ["run", "replay", "tail", "bench"])
    func help(command: String) async throws {
        let result = try await SluiceBinary.run([command, "--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE: sluice \(command)"))
        #expect(result.stdout.contains("OVERVIEW:"))
        if command != "bench" { #expect(result.stdout.contains("--window")) }
    }

    @Test("tail prints a plain snapshot when stdout is not a terminal")
    func tailPlain() async throws {
        let result = try await SluiceBinary.run(["tail"], stdinFile: FixtureLocator.fixtures() + "/demo/input.ndjson")
        #expect(result.status == 0)
        let last = result.stdout.components(separatedBy: "sluice tail — ").last ?? ""
        // Two demo records come more than the default 5 s lateness behind the newest.
        #expect(last.hasPrefix("event time 2026-11-24T10:05:06Z — 1798 records"))
        #expect(last.contains("late: 2 records more than 5s behind the newest record, not counted"))
        #expect(last.contains("blog orders_per_min{region=us}"))
        #expect(last.contains("shop-eu response_time{route=/checkout}"))
        #expect(last.contains("SITE"))
        #expect(!result.stdout.contains("\u{1B}["))
    }
}

@Suite("Detect")
struct DetectTests {
    @Test("detect writes one scored row per input row, in order, and a prefix scores the same")
    func streamingRows() async throws {
        let dir = TestFiles.temporaryDirectory()
        var csv = "timestamp,value\n"
        for i in 0..<600 { csv += "2014-01-01 00:\(i / 60):\(i % 60),\(i == 500 ? 99.5 : Double(i % 17) / 4)\n" }
        _ = TestFiles.write("\(dir)/series.csv", csv)
        let prefix = csv.split(separator: "\n").prefix(301).joined(separator: "\n") + "\n"
        _ = TestFiles.write("\(dir)/prefix.csv", prefix)
        let full = try await SluiceBinary.run(["detect", "\(dir)/series.csv"])
        let again = try await SluiceBinary.run(["detect", "\(dir)/series.csv"])
        let part = try await SluiceBinary.run(["detect", "\(dir)/prefix.csv"])
        #expect(full.status == 0)
        #expect(full.stdout == again.stdout)
        let rows = full.stdout.split(separator: "\n")
        #expect(rows.count == 601)
        #expect(rows.first == "timestamp,value,anomaly_score")
        #expect(full.stdout.hasPrefix(part.stdout))
        let scores = rows.dropFirst().map { Double($0.split(separator: ",").last!)! }
        #expect(scores.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(scores[500] == scores.max())
    }

    @Test("the README's series: the first 30 rows warm up and score 0, the spike at row 81 scores highest")
    func warmup() async throws {
        let dir = TestFiles.temporaryDirectory()
        var csv = "timestamp,value\n"
        for i in 0..<100 { csv += "2026-11-24 10:\(i / 60):\(i % 60),\(i == 80 ? 50 : i % 5)\n" }
        _ = TestFiles.write("\(dir)/series.csv", csv)
        let result = try await SluiceBinary.run(["detect", "\(dir)/series.csv"])
        #expect(result.status == 0)
        let scores = result.stdout.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",").last!)! }
        #expect(scores.count == 100)
        #expect(scores.prefix(30).allSatisfy { $0 == 0 })
        #expect(scores[30...].contains { $0 > 0 }, "scoring starts after the warm-up")
        #expect(scores.enumerated().filter { $0.element == scores.max() }.map(\.offset) == [80])
        // --warmup 0 scores from the first row: the warm-up is what silences it.
        let cold = try await SluiceBinary.run(["detect", "\(dir)/series.csv", "--warmup", "0"])
        let coldScores = cold.stdout.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",").last!)! }
        #expect(coldScores.prefix(30).contains { $0 > 0 })
        #expect(Array(coldScores[30...]) == Array(scores[30...]))
        let help = try await SluiceBinary.run(["help", "detect"])
        #expect(help.stdout.contains("the first 30 rows"))
    }

    @Test("the model's constants as options: the defaults spelled out score alike, a larger scale only lowers scores, a bad constant is refused")
    func tuningOptions() async throws {
        let dir = TestFiles.temporaryDirectory()
        var random = SeededRandom(seed: 17)
        var csv = "timestamp,value\n"
        // Noise around 10, then a lasting shift to 13: the level-shift detector's case.
        for i in 0..<800 { csv += "2014-01-01 00:00:\(i),\((i < 400 ? 10 : 13) + Double(random.next() % 2_001) / 1_000 - 1)\n" }
        _ = TestFiles.write("\(dir)/series.csv", csv)
        func scores(_ options: [String]) async throws -> [Double] {
            let result = try await SluiceBinary.run(["detect", "\(dir)/series.csv"] + options)
            #expect(result.status == 0, "\(options): \(result.stderr)")
            return result.stdout.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",").last!)! }
        }
        let standard = try await scores([])
        #expect(standard.count == 800)
        #expect(try await scores(["--near", "2", "--near-factor", "0.5", "--recent-ratio", "0.5", "--recent-span", "100", "--scale", "7",
                                  "--seasonal-span", "100", "--shift-span", "100"]) == standard)
        // z / (z + scale) keeps the order of z, so the same values pass the record gates and
        // every seasonal or level-shift score falls; novelty does not depend on the scale.
        let wide = try await scores(["--scale", "16"])
        #expect(zip(wide, standard).allSatisfy { $0 <= $1 })
        #expect(zip(wide, standard).contains { $0 < $1 }, "the shift at row 400 is the level-shift detector's")
        let refused = try await SluiceBinary.run(["detect", "\(dir)/series.csv", "--scale", "0"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--scale 0.0: expected a number above 0"), "\(refused.stderr)")
        let tooLong = try await SluiceBinary.run(["detect", "\(dir)/series.csv", "--recent-span", "1024"])
        #expect(tooLong.status != 0)
        #expect(tooLong.stderr.contains("--recent-span 1024: expected 1 to 1023 values"), "\(tooLong.stderr)")
        let help = try await SluiceBinary.run(["help", "detect"])
        #expect(help.stdout.contains("--near-factor") && help.stdout.contains("--recent-ratio"))
    }

    @Test("a bad value is reported with its line and scored 0; a file without a header is refused")
    func badRows() async throws {
        let dir = TestFiles.temporaryDirectory()
        _ = TestFiles.write("\(dir)/bad.csv", "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n2014-01-01 00:10:00,2\n")
        let result = try await SluiceBinary.run(["detect", "\(dir)/bad.csv"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("line 3: value \"abc\" is not a finite number"))
        #expect(result.stdout.split(separator: "\n").count == 4)
        _ = TestFiles.write("\(dir)/nohead.csv", "1,2\n")
        let refused = try await SluiceBinary.run(["detect", "\(dir)/nohead.csv"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("header"))
    }
}

@Suite("Serve and tail", .serialized)
struct ServeAndTailTests {
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("tail --server shows the windows a running server closes")
    func tailFollowsServer() throws {
        let port = Self.freePort()
        let dir = TestFiles.temporaryDirectory()
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        serve.arguments = ["serve", "--http", "127.0.0.1:\(port)", "--data-dir", "\(dir)/data"]
        serve.standardOutput = FileHandle.nullDevice
        let serveErr = Pipe()
        serve.standardError = serveErr
        try serve.spawn()
        defer { serve.terminate(); serve.waitUntilExit() }
        // Ready once it says where it serves.
        var started = ""
        while !started.contains("serving on") {
            let chunk = serveErr.fileHandleForReading.availableData
            try #require(!chunk.isEmpty, "serve exited: \(started)")
            started += String(decoding: chunk, as: UTF8.self)
        }
        serveErr.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
        let tail = Process()
        tail.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        tail.arguments = ["tail", "--server", "http://127.0.0.1:\(port)"]
        let out = Pipe()
        tail.standardOutput = out
        tail.standardError = FileHandle.nullDevice
        try tail.spawn()
        defer { tail.terminate(); tail.waitUntilExit() }
        // Tail shows windows that close after it subscribed; it may not have subscribed yet, so
        // each round closes one more minute until tail shows one (a minute of rounds at most).
        var text = ""
        for minute in 1...60 where !text.contains("- followed") {
            let body = #"[{"metric_name":"followed","value":4,"timestamp":"2030-01-01T\#(String(format: "%02d", minute / 60)):\#(String(format: "%02d", minute % 60)):00Z"}]"#
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v2/analytics/metrics")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
            let done = DispatchSemaphore(value: 0)
            URLSession.shared.dataTask(with: request) { _, _, _ in done.signal() }.resume()
            done.wait()
            // Tail redraws at least every second: one redraw per round.
            text += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        #expect(text.contains("- followed"))
        // The row shows a closed one-minute window of one sample.
        #expect(text.split(separator: "\n").contains { $0.contains("- followed") && $0.contains("60s") && $0.contains(" 1 ") })
    }
}
