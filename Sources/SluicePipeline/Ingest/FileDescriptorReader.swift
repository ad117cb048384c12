#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Chunks of bytes read from a file descriptor (stdin or a file), as an async sequence.
///
/// `read(2)` blocks, so it runs on a dispatch queue of its own rather than on a cooperative
/// thread: a quiet stdin must not take one of the pool's few threads. The next read starts
/// only when the consumer asks for the next chunk, so a full pipeline stops the reading.
public struct FileDescriptorReader: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let descriptor: Int32
    let chunkBytes: Int
    /// Close the descriptor at the end (files opened by path; never stdin).
    let closeAtEnd: Bool

    public init(descriptor: Int32, chunkBytes: Int = 256 << 10, closeAtEnd: Bool = false) {
        self.descriptor = descriptor
        self.chunkBytes = chunkBytes
        self.closeAtEnd = closeAtEnd
    }

    /// Opens a file for reading.
    public static func open(path: String, chunkBytes: Int = 256 << 10) throws -> FileDescriptorReader {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(operation: "open", path: path, errno: errno) }
        return FileDescriptorReader(descriptor: fd, chunkBytes: chunkBytes, closeAtEnd: true)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: FileDescriptorReader
        let queue = DispatchQueue(label: "sluice.reader")
        var done = false

        public mutating func next() async throws -> [UInt8]? {
            guard !done else { return nil }
            let fd = reader.descriptor
            let size = reader.chunkBytes
            let result: Result<[UInt8], IOError> = await withCheckedContinuation { continuation in
                queue.async {
                    var buffer = [UInt8](repeating: 0, count: size)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, size) }
                        if n >= 0 {
                            buffer.removeSubrange(n...)
                            continuation.resume(returning: .success(buffer))
                            return
                        }
                        if errno == EINTR { continue }
                        continuation.resume(returning: .failure(IOError(operation: "read", path: nil, errno: errno)))
                        return
                    }
                }
            }
            let chunk = try result.get()
            if chunk.isEmpty {
                done = true
                if reader.closeAtEnd { Glibc.close(fd) }
                return nil
            }
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: self) }
}

/// A failed system call on a file, with the system's reason.
public struct IOError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String?
    public var code: Int32

    public init(operation: String, path: String?, errno code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String {
        let reason = String(cString: strerror(code))
        if let path { return "cannot \(operation) \(path): \(reason)" }
        return "\(operation) failed: \(reason)"
    }
}
