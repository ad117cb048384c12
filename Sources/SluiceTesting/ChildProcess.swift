import Foundation

extension Process {
    /// Starts the process with no other test starting one at the same moment.
    ///
    /// Suites run in parallel, and many start real peers (Python clients, Prometheus, the
    /// `sluice` binary). Foundation's `Process.run()` on Linux walks `/proc/self/fd` and sets up
    /// its child-watching run loop without guarding against a concurrent `run()`; launching one
    /// at a time keeps the suite clear of that. Only the launch is serialised: the children run
    /// side by side.
    public func spawn() throws {
        try ChildProcessLaunch.lock.withLock { try run() }
    }
}

extension FileHandle {
    /// Reads a child's log until one of `phrases` appears (`true`) or the child closes it by
    /// ending (`false`): how a test waits for a peer to be ready, on a condition, never a
    /// deadline. Blocking: call it off the cooperative pool.
    public func waitForLog(_ phrases: String...) -> Bool {
        var text = ""
        while true {
            let chunk = availableData
            if chunk.isEmpty { return false }
            text += String(decoding: chunk, as: UTF8.self)
            if phrases.contains(where: text.contains) { return true }
        }
    }
}

private enum ChildProcessLaunch {
    static let lock = NSLock()
}

/// Python with the test peers `scripts/setup --tests` installs (client libraries, reference
/// encoders): the independent oracle many protocol tests check against.
public enum Python {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `script` to its end and returns what it wrote to stdout. Fails, saying so, when a
    /// peer is missing or the script fails.
    public static func run(_ script: String) async throws -> Data {
        let result = try await execute(["-c", script])
        guard result.status == 0 else {
            if result.stderr.contains("No module named") {
                throw Failure(description: "a Python test peer is missing (\(result.stderr.split(separator: "\n").last ?? "")): run `scripts/setup --tests`")
            }
            throw Failure(description: "python3 exited with \(result.status): \(result.stderr.suffix(2000))")
        }
        return result.stdout
    }

    /// Runs `python3 arguments…` to its end: its exit status, stdout and stderr.
    public static func execute(_ arguments: [String]) async throws -> (status: Int32, stdout: Data, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.spawn()
        // Both pipes drained at once, so that neither fills while the other is read.
        async let errors = offThePool { err.fileHandleForReading.readDataToEndOfFile() }
        let stdout = try await offThePool { out.fileHandleForReading.readDataToEndOfFile() }
        let stderr = String(decoding: try await errors, as: UTF8.self)
        try await offThePool { process.waitUntilExit() }
        return (process.terminationStatus, stdout, stderr)
    }
}
