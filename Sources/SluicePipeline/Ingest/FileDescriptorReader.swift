#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

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
    /// Once set, the stream ends at the next chunk boundary (a graceful shutdown).
    let stop: StopSignal?

    public init(descriptor: Int32, chunkBytes: Int = 256 << 10, closeAtEnd: Bool = false, stop: StopSignal? = nil) {
        self.descriptor = descriptor
        self.chunkBytes = chunkBytes
        self.closeAtEnd = closeAtEnd
        self.stop = stop
    }

    /// Opens a file for reading.
    public static func open(path: String, chunkBytes: Int = 256 << 10, stop: StopSignal? = nil) throws -> FileDescriptorReader {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(operation: "open", path: path, errno: errno) }
        return FileDescriptorReader(descriptor: fd, chunkBytes: chunkBytes, closeAtEnd: true, stop: stop)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: FileDescriptorReader
        let queue = DispatchQueue(label: "sluice.reader")
        var done = false

        public mutating func next() async throws -> [UInt8]? {
            guard !done, reader.stop?.isSet != true else { return finish() }
            let fd = reader.descriptor
            let size = reader.chunkBytes
            let stop = reader.stop
            let result: Result<[UInt8], IOError> = await withCheckedContinuation { continuation in
                queue.async {
                    // Read into uninitialised storage: zeroing a chunk first costs as much as
                    // copying it in.
                    var failure: Int32?
                    let buffer = [UInt8](unsafeUninitializedCapacity: size) { bytes, count in
                        count = 0
                        while true {
                            // Wait in short slices so a stop request is seen even on a quiet pipe.
                            if let stop {
                                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                                let ready = poll(&poller, 1, 100)
                                if stop.isSet { return }
                                if ready == 0 || (ready < 0 && errno == EINTR) { continue }
                            }
                            let n = Glibc.read(fd, bytes.baseAddress, size)
                            if n >= 0 {
                                count = n
                                return
                            }
                            if errno == EINTR { continue }
                            failure = errno
                            return
                        }
                    }
                    if let failure {
                        continuation.resume(returning: .failure(IOError(operation: "read", path: nil, errno: failure)))
                    } else {
                        continuation.resume(returning: .success(buffer))
                    }
                }
            }
            let chunk = try result.get()
            if chunk.isEmpty { return finish() }
            return chunk
        }

        private mutating func finish() -> [UInt8]? {
            if !done, reader.closeAtEnd { Glibc.close(reader.descriptor) }
            done = true
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: self) }
}

/// A flag a signal handler sets to end input gracefully.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { flag.load(ordering: .acquiring) }
    public func set() { flag.store(true, ordering: .releasing) }
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
