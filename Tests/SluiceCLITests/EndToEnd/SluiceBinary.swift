import Foundation
import SluiceTesting

/// Runs the built `sluice` executable, as a user would.
enum SluiceBinary {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `sluice` built beside the test bundle.
    static var path: String { built("sluice") }

    /// The `sluice-example-app` built beside the test bundle.
    static var exampleAppPath: String { built("sluice-example-app") }

    /// The executable `name` of this package, built beside the test bundle.
    static func built(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // swift-testing on Linux may run from inside the .xctest bundle directory.
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return FixtureLocator.repositoryRoot() + "/.build/debug/" + name
    }

    /// Runs `sluice` to its end, waiting on a Dispatch thread: a child process can take a
    /// while, and the in-process servers of other tests need the cooperative pool meanwhile.
    static func run(_ arguments: [String], stdin: Data? = nil, stdinFile: String? = nil, environment: [String: String]? = nil) async throws -> Output {
        try await offThePool { try runBlocking(arguments, stdin: stdin, stdinFile: stdinFile, environment: environment) }
    }

    private static func runBlocking(_ arguments: [String], stdin: Data?, stdinFile: String?, environment: [String: String]?) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: FixtureLocator.repositoryRoot())
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        var feed: Pipe?
        if let stdinFile {
            process.standardInput = FileHandle(forReadingAtPath: stdinFile)
        } else if stdin != nil {
            feed = Pipe()
            process.standardInput = feed
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.spawn()
        // Read both pipes and write stdin at once, each on its own thread, so neither side can
        // fill a pipe and stall the other.
        let stdoutData = Mutexed(Data()), stderrData = Mutexed(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { stdoutData.set(out.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        group.enter()
        DispatchQueue.global().async { stderrData.set(err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        if let feed, let stdin {
            group.enter()
            // A command that stops early (--strict) closes its stdin: the rest is not wanted.
            signal(SIGPIPE, SIG_IGN)
            DispatchQueue.global().async {
                try? feed.fileHandleForWriting.write(contentsOf: stdin)
                try? feed.fileHandleForWriting.close()
                group.leave()
            }
        }
        process.waitUntilExit()
        group.wait()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdoutData.get(), as: UTF8.self), stderr: String(decoding: stderrData.get(), as: UTF8.self))
    }
}

/// A value shared with a dispatch block.
final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}
