import Foundation
import SluiceNATS

/// A real `nats-server -js` on a loopback port with its own store directory, started by the
/// test and stopped by its PID. `scripts/setup --tests` installs it (Debian `nats-server`); a
/// test without it fails and says so.
public final class NATSServerPeer: Sendable {
    let process: Process
    public let port: Int
    public let storeDirectory: String
    public var url: String { "nats://127.0.0.1:\(port)" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    private init(process: Process, port: Int, storeDirectory: String) {
        self.process = process
        self.port = port
        self.storeDirectory = storeDirectory
    }

    public static func executable() throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/bin"]
        for directory in path where FileManager.default.isExecutableFile(atPath: directory + "/nats-server") {
            return directory + "/nats-server"
        }
        throw Failure(description: "nats-server is not installed: run `scripts/setup --tests` (it installs the test peers)")
    }

    /// Starts a server, on `port` when given (a restart on the same address), with `settings`
    /// as its configuration file's lines (`max_payload: 4096`), and returns once it says it is
    /// ready: a condition read from its log, never a deadline.
    public static func start(port: Int? = nil, storeDirectory: String? = nil, settings: [String] = []) async throws -> NATSServerPeer {
        let executable = try executable()
        let directory = storeDirectory ?? TestFiles.temporaryDirectory("sluice-nats")
        for _ in 0..<5 {
            let port = try port ?? LoopbackSockets.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", directory, "-n", "sluice-test"]
            if !settings.isEmpty {
                let file = directory + "/server.conf"
                try settings.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
                process.arguments! += ["-c", file]
            }
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            let log = Pipe()
            process.standardError = log
            try process.spawn()
            let ready = try await offThePool { log.fileHandleForReading.waitForLog("Server is ready") }
            // From here on its log is read and dropped, so it never blocks on a full pipe.
            log.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
            let peer = NATSServerPeer(process: process, port: port, storeDirectory: directory)
            if ready { return peer }
            log.fileHandleForReading.readabilityHandler = nil
            peer.kill()
        }
        throw Failure(description: "nats-server did not start on a free port")
    }

    /// How a test's client connects to it. The whole suite runs at once on a small machine, so
    /// an answer can take seconds: the timeouts are generous, and a test that waits on one
    /// still fails, just later.
    public func client(_ name: String = "sluice-test") -> NATSClient.Configuration {
        var configuration = NATSClient.Configuration(url: url, name: name)
        configuration.connectTimeout = .seconds(60)
        configuration.requestTimeout = .seconds(60)
        return configuration
    }

    /// `kill -9`, and waits for it to be gone.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
