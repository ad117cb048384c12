#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SluiceModel

/// Writes records as NDJSON to a file descriptor (stdout, or `--output FILE`).
public final class NDJSONSink: Sink {
    private let descriptor: Int32
    private let closeAtEnd: Bool

    public init(descriptor: Int32, closeAtEnd: Bool = false) {
        self.descriptor = descriptor
        self.closeAtEnd = closeAtEnd
    }

    /// Creates (or truncates) a file to write to.
    public static func create(path: String) throws -> NDJSONSink {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError(operation: "create", path: path, errno: errno) }
        return NDJSONSink(descriptor: fd, closeAtEnd: true)
    }

    /// Written a megabyte at a time: a window of a million series is not held twice, once as
    /// records and once as one buffer of their text.
    public func write(_ records: [OutputRecord]) async throws {
        let chunk = 1 << 20
        var json = JSONWriter(capacity: min(records.count * 256, chunk + 4_096))
        for record in records {
            record.write(to: &json)
            if json.bytes.count >= chunk {
                try writeAll(json.bytes)
                json = JSONWriter(capacity: chunk + 4_096)
            }
        }
        if !json.bytes.isEmpty { try writeAll(json.bytes) }
    }

    public func finish() async throws {
        if closeAtEnd {
            guard fsync(descriptor) == 0 || errno == EINVAL, close(descriptor) == 0 else {
                throw IOError(operation: "close", path: nil, errno: errno)
            }
        }
    }

    /// Writes bytes as they are (already NDJSON).
    public func writeRaw(_ bytes: [UInt8]) throws { try writeAll(bytes) }

    private func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw IOError(operation: "write", path: nil, errno: errno)
                }
                offset += n
            }
        }
    }
}
