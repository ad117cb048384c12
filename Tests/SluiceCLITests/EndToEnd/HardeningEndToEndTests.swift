#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Testing
import SluiceTesting

/// What an adversarial probe found in the binary, each through the real `sluice`.
@Suite("Hardening, end to end", .serialized)
struct HardeningEndToEndTests {
    @Test("times and durations out of range are refused with a message, never a crash", arguments: [
        ["query", "--from", "1e15"], ["query", "--to", "-1e15"], ["query", "--from", "inf"],
        ["query", "--from", "2030-01-02T00:00:00Z", "--to", "2030-01-01T00:00:00Z"], ["query", "--aggregate", "99999999999d"],
        ["query", "--aggregate", "0s"],
    ])
    func outOfRange(arguments: [String]) async throws {
        let dir = TestFiles.temporaryDirectory()
        _ = try await SluiceBinary.run(["replay", "Fixtures/demo/input.ndjson", "--data-dir", dir + "/data"])
        let result = try await SluiceBinary.run(arguments + ["--data-dir", dir + "/data"])
        #expect(result.status == 64, "\(arguments): status \(result.status), \(result.stderr)")
        #expect(result.stderr.contains(arguments[1]), "the message names the option: \(result.stderr)")
    }

    @Test("a timestamp whose offset carries it outside years 0000–9999 is refused; the edges themselves are kept and replay")
    func timestampRange() async throws {
        let lines = [
            #"{"metric_name":"m","value":1,"timestamp":"0000-01-01T00:00:00+23:59"}"#,
            #"{"metric_name":"m","value":2,"timestamp":"9999-12-31T23:59:59-00:01"}"#,
            #"{"metric_name":"m","value":3,"timestamp":"0000-01-01T00:00:00Z"}"#,
            #"{"metric_name":"m","value":4,"timestamp":"9999-12-31T23:58:00-00:01"}"#,
        ]
        let result = try await SluiceBinary.run(["run", "--lateness", "0s"], stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 0)
        #expect(result.stderr.contains("line 1: timestamp \"0000-01-01T00:00:00+23:59\""))
        #expect(result.stderr.contains("line 2: timestamp \"9999-12-31T23:59:59-00:01\""))
        #expect(result.stdout.contains(#""errors":2"#))
        #expect(result.stdout.contains(#""start":"0000-01-01T00:00:00Z""#))
        #expect(result.stdout.contains(#""start":"9999-12-31T23:59:00Z""#))
    }

    /// `sluice serve` as a child process, its port read from the line it prints on start.
    final class ServeProcess: @unchecked Sendable {
        let process = Process()
        let port: Int

        /// Starts the server and waits, off the cooperative pool, for the line with its port.
        static func start(dataDirectory: String, config: String) async throws -> ServeProcess {
            try await offThePool { try ServeProcess(dataDirectory: dataDirectory, config: config) }
        }

        private init(dataDirectory: String, config: String) throws {
            process.executableURL = URL(fileURLWithPath: SluiceBinary.path)
            process.arguments = ["serve", "--http", "127.0.0.1:0", "--data-dir", dataDirectory, "--config", config]
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.spawn()
            var seen = ""
            while !seen.contains("serving on") {
                let chunk = err.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "serve exited: \(seen)"]) }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            let address = seen.split(separator: "http://127.0.0.1:")[1]
            port = Int(address.prefix { $0.isNumber })!
            // Keep draining stderr so the server never blocks on it.
            err.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
        }

        func request(_ method: String, _ path: String, body: String? = nil) async throws -> (Int, Any?) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.timeoutInterval = 60
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, try? JSONSerialization.jsonObject(with: data))
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func terminate() {
            process.terminate()
            process.waitUntilExit()
        }
    }

    @Test("kill -9 after acknowledged token usage: a restart has every total, and a re-post is counted once")
    func tokenUsageSurvivesKill() async throws {
        let dir = TestFiles.temporaryDirectory()
        _ = TestFiles.write(dir + "/sluice.yml", "store:\n  fsync: always\n")
        let records = (0..<50).map { i in
            #"{"type":"token_usage","model":"gpt-4o","prompt_tokens":\#(100 + i),"completion_tokens":\#(i),"request_id":"r-\#(i)","tenant_id":"acme","timestamp":"2030-01-15T10:00:\#(String(format: "%02d", i))Z"}"#
        }
        // The oracle: plain sums of what was sent.
        let prompt = (0..<50).reduce(0) { $0 + 100 + $1 }, completion = (0..<50).reduce(0, +)
        func totals(_ server: ServeProcess) async throws -> (requests: Int, prompt: Int, completion: Int) {
            let (status, json) = try await server.request("GET", "/api/v2/analytics/tokens?tenant=acme")
            #expect(status == 200)
            let rows = json as? [[String: Any]] ?? []
            return (rows.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }, rows.reduce(0) { $0 + ($1["prompt_tokens"] as? Int ?? 0) },
                    rows.reduce(0) { $0 + ($1["completion_tokens"] as? Int ?? 0) })
        }

        var server = try await ServeProcess.start(dataDirectory: dir + "/data", config: dir + "/sluice.yml")
        // One request each, as clients send them: every 202 means stored (fsync: always).
        for record in records { #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: record).0 == 202) }
        #expect(try await totals(server) == (50, prompt, completion))
        server.kill9()

        server = try await ServeProcess.start(dataDirectory: dir + "/data", config: dir + "/sluice.yml")
        #expect(try await totals(server) == (50, prompt, completion), "every acknowledged record is counted after the crash")
        // A client that never heard back sends everything again: nothing changes.
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: records.joined(separator: "\n")).0 == 202)
        #expect(try await totals(server) == (50, prompt, completion), "a re-post is recognised by request id")
        server.kill9()

        // And once more, after a second crash with nothing new.
        server = try await ServeProcess.start(dataDirectory: dir + "/data", config: dir + "/sluice.yml")
        #expect(try await totals(server) == (50, prompt, completion))
        server.terminate()
        #expect(server.process.terminationStatus == 0)
    }

    @Test("run --data-dir on a full disk exits non-zero with the reason instead of hanging")
    func runOnFullDisk() throws {
        let disk = TestFiles.temporaryDirectory("sluice-full")
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]
        try mount.spawn()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "mounting a tmpfs needs root, as CI has")
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = ["-l", disk]
            try? umount.spawn()
            umount.waitUntilExit()
        }
        try FileManager.default.createDirectory(atPath: disk + "/data", withIntermediateDirectories: true)
        let fd = open(disk + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let chunk = [UInt8](repeating: 1, count: 4_096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        close(fd)

        var lines = ""
        for i in 0..<20_000 { lines += #"{"metric_name":"m\#(i % 500)","value":\#(Double(i) / 7),"timestamp":"2030-01-01T00:00:00Z"}"# + "\n" }
        let input = TestFiles.temporaryDirectory() + "/in.ndjson"
        _ = TestFiles.write(input, lines)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        // A hung run is stopped (TERM at 60 s, KILL 10 s later), so the test fails instead of holding the suite.
        process.arguments = ["-k", "10", "60", SluiceBinary.path, "run", "--data-dir", disk + "/data"]
        process.standardInput = FileHandle(forReadingAtPath: input)
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.spawn()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(![124, 137].contains(process.terminationStatus), "timed out: the run hung")
        #expect(process.terminationStatus != 0)
        #expect(stderr.contains("No space left on device"), "\(stderr)")
        #expect(stderr.contains("records were not stored"), "says what was lost: \(stderr)")
    }
}
