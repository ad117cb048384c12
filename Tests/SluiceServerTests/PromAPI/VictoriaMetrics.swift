import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceTesting

/// A VictoriaMetrics single-node server on a free loopback port and a temporary data
/// directory, for answers to compare with. Stopped by its PID.
final class VictoriaMetrics: Sendable {
    let process: Process
    let url: String
    let dataDirectory: String

    /// Starts it and waits until it says its HTTP server is listening (a condition, read from
    /// its log, never a deadline: a loaded machine only makes it slower).
    static func start() async throws -> VictoriaMetrics {
        let executable = try TestPeer.path("victoria-metrics")
        let directory = TestFiles.temporaryDirectory("sluice-vm")
        for _ in 0..<5 {
            let port = try TestPeer.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            // Fresh samples answer at once: no latency offset, no result cache.
            process.arguments = ["-httpListenAddr", "127.0.0.1:\(port)", "-storageDataPath", directory,
                                 "-search.latencyOffset", "0s", "-search.disableCache", "-loggerLevel", "INFO"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            let log = Pipe()
            process.standardError = log
            try process.spawn()
            let vm = VictoriaMetrics(process: process, url: "http://127.0.0.1:\(port)", dataDirectory: directory)
            let listening = try await offThePool { log.fileHandleForReading.waitForLog("starting http server at", "started server at") }
            // From here on its log is read and dropped, so it never blocks on a full pipe.
            log.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
            if listening, try await vm.healthy() { return vm }
            // The port was taken between asking and binding (it exited): another one.
            log.fileHandleForReading.readabilityHandler = nil
            vm.stop()
        }
        throw TestPeer.Failure(description: "victoria-metrics did not start on a free port")
    }

    private init(process: Process, url: String, dataDirectory: String) {
        self.process = process
        self.url = url
        self.dataDirectory = dataDirectory
    }

    /// `/health` says OK once the listener is up (it logs just before it binds); `false` when
    /// the process ended instead.
    private func healthy() async throws -> Bool {
        while true {
            guard process.isRunning else { return false }
            if let (status, body) = try? await TestPeer.get(url + "/health"), status == 200, body.contains("OK") { return true }
            await Task.yield()
        }
    }

    /// Imports JSON lines (`/api/v1/import`) and flushes them so that queries see them.
    func importLines(_ lines: String) async throws {
        var request = URLRequest(url: URL(string: url + "/api/v1/import")!)
        request.httpMethod = "POST"
        request.httpBody = Data(lines.utf8)
        request.timeoutInterval = 60
        let (_, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 204 || status == 200 else { throw TestPeer.Failure(description: "victoria-metrics import answered \(status)") }
        _ = try await TestPeer.get(url + "/internal/force_flush")
    }

    /// Waits until `/api/v1/series` finds `count` series for `match` (imports become
    /// searchable asynchronously even after a flush); the suite's time limit bounds it.
    func waitForSeries(_ match: String, count: Int, start: Int64, end: Int64) async throws {
        var last = ""
        while process.isRunning {
            let (_, body) = try await TestPeer.get(url + TestPeer.query("/api/v1/series", [("match[]", match), ("start", "\(start)"), ("end", "\(end)")]))
            last = body
            if let data = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["data"] as? [Any], data.count == count { return }
            _ = try await TestPeer.get(url + "/internal/force_flush")
            await Task.yield()
        }
        throw TestPeer.Failure(description: "victoria-metrics exited before it showed \(count) series for \(match): \(last)")
    }

    /// SIGTERM by PID, then waits for the exit; removes the data directory.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}
