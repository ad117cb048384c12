import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceTesting

/// The real programs the read API is tested against: promtool, VictoriaMetrics, Python with
/// `prometheus-api-client`. `scripts/setup --tests` installs them; a test whose peer is
/// missing fails and says so, it is never skipped.
enum TestPeer {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What a finished program left.
    struct Outcome: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The full path of `name` on `PATH`.
    static func path(_ name: String) throws -> String {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(description: "\(name) is not installed: run `scripts/setup --tests` (it installs the test peers)")
    }

    /// Runs `executable` to the end, off the cooperative pool; killed after `timeout` seconds
    /// so that a hung peer fails the test instead of holding it.
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 120) async throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.spawn()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        // Both pipes drained at once, so that neither fills while the other is read.
        async let errors = offThePool { err.fileHandleForReading.readDataToEndOfFile() }
        let stdout = try await offThePool { out.fileHandleForReading.readDataToEndOfFile() }
        let stderr = try await errors
        try await offThePool { process.waitUntilExit() }
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A loopback port nobody listens on at the moment of asking.
    static func freePort() throws -> Int { try LoopbackSockets.freePort() }

    /// `GET url`, with a bearer token; the status and body.
    static func get(_ url: String, token: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 60
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// `path?name=value&…`, percent-encoded.
    static func query(_ path: String, _ parameters: [(String, String)]) -> String {
        var components = URLComponents()
        components.path = path
        components.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        // `+` is a space in a query string: encode it, as browsers and Go clients do.
        return components.string!.replacingOccurrences(of: "+", with: "%2B")
    }
}
