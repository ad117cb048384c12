import Foundation
import SluiceTesting

/// The independent encoders the snappy and remote-write decoders are checked against: Python
/// with PyPI `cramjam` (Rust's `snap` crate, for snappy blocks) and the classes
/// `prometheus-remote-writer` generated from Prometheus' own `remote.proto` and `types.proto`.
/// `scripts/setup --tests` installs both; a test whose peer is missing fails and says so.
enum RemoteWritePeer {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a Python script to its end and returns what it wrote to stdout (binary).
    static func run(_ script: String) async throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Both pipes drained at once, so that neither fills while the other is read.
        async let errors = offThePool { err.fileHandleForReading.readDataToEndOfFile() }
        let stdout = try await offThePool { out.fileHandleForReading.readDataToEndOfFile() }
        let stderr = String(decoding: try await errors, as: UTF8.self)
        try await offThePool { process.waitUntilExit() }
        guard process.terminationStatus == 0 else {
            if stderr.contains("No module named") {
                throw Failure(description: "a Python test peer is missing (\(stderr.split(separator: "\n").last ?? "")): run `scripts/setup --tests`")
            }
            throw Failure(description: "python3 exited with \(process.terminationStatus): \(stderr.suffix(2000))")
        }
        return stdout
    }

    /// Reads `[u32 little-endian length][bytes]` frames back to back.
    struct Frames {
        let data: [UInt8]
        var position = 0

        init(_ data: Data) { self.data = Array(data) }

        var isAtEnd: Bool { position >= data.count }

        mutating func byte() -> UInt8 {
            defer { position += 1 }
            return data[position]
        }

        mutating func frame() -> [UInt8] {
            var length = 0
            for i in 0..<4 { length |= Int(data[position + i]) << (8 * i) }
            position += 4
            defer { position += length }
            return Array(data[position..<(position + length)])
        }
    }
}
