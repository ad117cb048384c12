#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cuts a byte stream into numbered lines, whatever the chunk boundaries.
///
/// A line split across chunks is carried over; a line longer than the limit is not buffered
/// past it: its bytes are skipped up to the next newline and it is reported once, so one
/// enormous line can neither exhaust memory nor hide the lines after it. A UTF-8 byte order
/// mark at the very start of the stream, which some editors and Windows tools write, is not
/// part of line 1 and is skipped; anywhere else it stays in its line (and is not JSON).
public struct LineSplitter: Sendable {
    public let maximumLineBytes: Int
    /// The number of the next line to complete (1-based).
    public private(set) var lineNumber = 1
    private var carry: [UInt8] = []
    private var skippingOversize = false
    private var oversizeLength = 0
    /// How many bytes of a leading byte order mark have been seen (it may be cut across
    /// chunks); `nil` once the stream is past the point where one could be.
    private var byteOrderMarkSeen: Int? = 0
    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    public init(maximumLineBytes: Int) { self.maximumLineBytes = maximumLineBytes }

    /// What the splitter found.
    public enum Line {
        /// A complete line (without its newline or a trailing `\r`).
        case line(UnsafeBufferPointer<UInt8>, number: Int)
        /// A line over the limit, skipped; its length in bytes.
        case tooLong(length: Int, number: Int)
    }

    /// Feeds a chunk; `body` sees each line it completes, in order.
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, _ body: (Line) -> Void) {
        guard let base = chunk.baseAddress else { return }
        var start = byteOrderMarkSeen == nil ? 0 : skipByteOrderMark(chunk)
        let n = chunk.count
        while start < n {
            let rest = n - start
            let found = memchr(base + start, 0x0A, rest)
            guard let found else {
                absorbPartial(UnsafeBufferPointer(start: base + start, count: rest))
                return
            }
            let end = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
            let piece = UnsafeBufferPointer(start: base + start, count: end - start)
            complete(piece, body)
            start = end + 1
        }
    }

    /// Cuts a chunk into a block of the lines it completes, owned, so that they can be decoded
    /// on another task while the next chunk is read. Lines wholly inside the chunk are kept as
    /// offsets into it (no copy); a line completed from bytes carried over from earlier chunks
    /// is copied once into the block.
    public mutating func cut(_ chunk: [UInt8]) -> LineBlock {
        var block = LineBlock(chunk: chunk)
        chunk.withUnsafeBufferPointer { bytes in
            feed(bytes) { block.add($0, within: bytes) }
        }
        return block
    }

    /// End of input as a block: the last line without a newline, if any.
    public mutating func cutFinish() -> LineBlock {
        var block = LineBlock(chunk: [])
        finish { line in [UInt8]().withUnsafeBufferPointer { block.add(line, within: $0) } }
        return block
    }

    /// End of input: a last line without a newline still counts.
    public mutating func finish(_ body: (Line) -> Void) {
        if let seen = byteOrderMarkSeen, seen > 0 {
            // The stream ended inside what looked like a mark: those bytes are its only line.
            byteOrderMarkSeen = nil
            Self.byteOrderMark[0..<seen].withUnsafeBufferPointer { absorbPartial($0) }
        }
        if skippingOversize || !carry.isEmpty {
            complete(UnsafeBufferPointer(start: nil, count: 0), body)
        }
    }

    /// Steps over the part of a leading byte order mark in `chunk`; returns the bytes it took.
    private mutating func skipByteOrderMark(_ chunk: UnsafeBufferPointer<UInt8>) -> Int {
        let earlier = byteOrderMarkSeen ?? 0
        var seen = earlier
        while seen < Self.byteOrderMark.count, seen - earlier < chunk.count {
            guard chunk[seen - earlier] == Self.byteOrderMark[seen] else {
                // Not a mark after all: what was held back from earlier chunks starts line 1,
                // and this chunk is read from its first byte.
                byteOrderMarkSeen = nil
                Self.byteOrderMark[0..<earlier].withUnsafeBufferPointer { absorbPartial($0) }
                return 0
            }
            seen += 1
        }
        byteOrderMarkSeen = seen < Self.byteOrderMark.count ? seen : nil
        return seen - earlier
    }

    private mutating func absorbPartial(_ piece: UnsafeBufferPointer<UInt8>) {
        if skippingOversize {
            oversizeLength += piece.count
        } else if carry.count + piece.count > maximumLineBytes {
            skippingOversize = true
            oversizeLength = carry.count + piece.count
            carry.removeAll()
        } else {
            carry.append(contentsOf: piece)
        }
    }

    private mutating func complete(_ piece: UnsafeBufferPointer<UInt8>, _ body: (Line) -> Void) {
        let number = lineNumber
        lineNumber += 1
        if skippingOversize {
            let length = oversizeLength + piece.count
            skippingOversize = false
            oversizeLength = 0
            body(.tooLong(length: length, number: number))
            return
        }
        if carry.isEmpty {
            let trimmed = Self.trimCR(piece)
            if trimmed.count > maximumLineBytes {
                body(.tooLong(length: trimmed.count, number: number))
            } else {
                body(.line(trimmed, number: number))
            }
            return
        }
        carry.append(contentsOf: piece)
        defer { carry.removeAll(keepingCapacity: carry.capacity <= 1 << 16) }
        carry.withUnsafeBufferPointer { whole in
            let trimmed = Self.trimCR(whole)
            if trimmed.count > maximumLineBytes {
                body(.tooLong(length: trimmed.count, number: number))
            } else {
                body(.line(trimmed, number: number))
            }
        }
    }

    private static func trimCR(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        if let last = line.last, last == 0x0D { return UnsafeBufferPointer(rebasing: line.dropLast()) }
        return line
    }
}

/// The lines one chunk completes, owned and numbered (`LineSplitter.cut`).
public struct LineBlock: Sendable {
    /// The chunk as it was read; most lines are ranges of it.
    let chunk: [UInt8]
    /// Lines that began in earlier chunks, whole.
    var carried: [UInt8] = []
    var entries: [Entry] = []

    enum Entry: Sendable {
        /// A line in `chunk` (`carried` when `isCarried`).
        case line(start: Int, count: Int, number: Int, isCarried: Bool)
        case tooLong(length: Int, number: Int)
    }

    init(chunk: [UInt8]) {
        self.chunk = chunk
        // About one line per 100 bytes of a typical record stream; exact size does not matter.
        entries.reserveCapacity(chunk.count / 96 + 1)
    }

    public var isEmpty: Bool { entries.isEmpty }

    mutating func add(_ line: LineSplitter.Line, within chunk: UnsafeBufferPointer<UInt8>) {
        switch line {
        case .tooLong(let length, let number):
            entries.append(.tooLong(length: length, number: number))
        case .line(let bytes, let number):
            if let base = bytes.baseAddress, let chunkBase = chunk.baseAddress,
               base >= chunkBase, base + bytes.count <= chunkBase + chunk.count {
                entries.append(.line(start: base - chunkBase, count: bytes.count, number: number, isCarried: false))
            } else {
                entries.append(.line(start: carried.count, count: bytes.count, number: number, isCarried: true))
                carried.append(contentsOf: bytes)
            }
        }
    }

    /// Calls `body` with each line, in order.
    func forEach(_ body: (LineSplitter.Line) -> Void) {
        chunk.withUnsafeBufferPointer { chunk in
            carried.withUnsafeBufferPointer { carried in
                for entry in entries {
                    switch entry {
                    case .tooLong(let length, let number):
                        body(.tooLong(length: length, number: number))
                    case .line(let start, let count, let number, let isCarried):
                        let source = isCarried ? carried : chunk
                        body(.line(UnsafeBufferPointer(rebasing: source[start..<(start + count)]), number: number))
                    }
                }
            }
        }
    }
}
