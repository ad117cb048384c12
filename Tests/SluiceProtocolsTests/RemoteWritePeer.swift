import Foundation
import SluiceTesting

/// The independent encoders the snappy and remote-write decoders are checked against: Python
/// with PyPI `cramjam` (Rust's `snap` crate, for snappy blocks) and the classes
/// `prometheus-remote-writer` generated from Prometheus' own `remote.proto` and `types.proto`.
/// `scripts/setup --tests` installs both; a test whose peer is missing fails and says so.
enum RemoteWritePeer {
    /// Runs a Python script to its end and returns what it wrote to stdout (binary).
    static func run(_ script: String) async throws -> Data {
        try await Python.run(script)
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
