#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cuts a byte stream into numbered lines, whatever the chunk boundaries.
///
/// A line split across chunks is carried over; a line longer than the limit is not buffered
/// past it: its bytes are skipped up to the next newline and it is reported once, so one
/// enormous line can neither exhaust memory nor hide the lines after it.
public struct LineSplitter: Sendable {
    public let maximumLineBytes: Int
    /// The number of the next line to complete (1-based).
    public private(set) var lineNumber = 1
    private var carry: [UInt8] = []
    private var skippingOversize = false
    private var oversizeLength = 0

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
        var start = 0
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

    /// End of input: a last line without a newline still counts.
    public mutating func finish(_ body: (Line) -> Void) {
        if skippingOversize || !carry.isEmpty {
            complete(UnsafeBufferPointer(start: nil, count: 0), body)
        }
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
