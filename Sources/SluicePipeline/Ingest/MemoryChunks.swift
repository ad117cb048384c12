/// An in-memory byte stream cut into chunks, as a reader would deliver it.
public struct MemoryChunks: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let bytes: [UInt8]
    let chunkBytes: Int

    public init(bytes: [UInt8], chunkBytes: Int) {
        self.bytes = bytes
        self.chunkBytes = Swift.max(1, chunkBytes)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        let chunkBytes: Int
        var offset = 0
        public mutating func next() async -> [UInt8]? {
            guard offset < bytes.count else { return nil }
            let end = Swift.min(offset + chunkBytes, bytes.count)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, chunkBytes: chunkBytes) }
}
