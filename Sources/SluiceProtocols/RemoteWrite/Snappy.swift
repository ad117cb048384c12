/// Snappy's block format (google/snappy `format_description.txt`): the compression of
/// Prometheus remote write 1.0 bodies (`Content-Encoding: snappy`). Not the framed format,
/// which remote write does not use.
///
/// No Swift snappy package exists, and decompression is small enough to own: a length
/// preamble, then literals and back-references. Every read and write is bounds-checked, the
/// stated length is refused before anything is allocated when it is over the limit, and a
/// malformed block throws an error that names the byte offset in the compressed input.
public enum Snappy {
    /// Decompresses one block. `limit` bounds the stated uncompressed length (a small body
    /// must not claim gigabytes); the output is exactly that long or the block is refused.
    public static func decompress(_ input: UnsafeBufferPointer<UInt8>, limit: Int) throws(ProtocolError) -> [UInt8] {
        let (length, start) = try preamble(input)
        guard length <= UInt64(limit) else {
            throw ProtocolError("the snappy body states \(length) bytes uncompressed, over the body limit of \(limit) bytes")
        }
        var output = [UInt8](repeating: 0, count: Int(length))
        let failure = output.withUnsafeMutableBufferPointer { out -> ProtocolError? in
            var block = Block(input: input, position: start, output: out)
            do throws(ProtocolError) {
                try block.decode()
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
        return output
    }

    /// The uncompressed length: a little-endian base-128 varint of at most 32 bits, and where
    /// the elements start.
    static func preamble(_ input: UnsafeBufferPointer<UInt8>) throws(ProtocolError) -> (UInt64, Int) {
        var length: UInt64 = 0
        for i in 0..<5 {
            guard i < input.count else {
                throw error(input.isEmpty ? "the body is empty; a snappy block starts with its length" : "the body ends inside the length preamble", at: i)
            }
            let byte = input[i]
            length |= UInt64(byte & 0x7F) << (7 * UInt64(i))
            if byte & 0x80 == 0 {
                guard length <= UInt64(UInt32.max) else { throw error("the length preamble is over 32 bits", at: 0) }
                return (length, i + 1)
            }
        }
        throw error("the length preamble is longer than 5 bytes", at: 0)
    }

    static func error(_ message: String, at offset: Int) -> ProtocolError {
        ProtocolError("invalid snappy at byte \(offset): \(message)")
    }

    /// The elements after the preamble, written into an output of the stated length.
    private struct Block {
        let input: UnsafeBufferPointer<UInt8>
        var position: Int
        let output: UnsafeMutableBufferPointer<UInt8>
        var written = 0

        mutating func decode() throws(ProtocolError) {
            while position < input.count {
                let start = position
                let tag = input[position]
                position += 1
                switch tag & 0b11 {
                case 0b00:
                    try literal(tag, at: start)
                case 0b01:
                    // 3 bits of length (4…11), 11 bits of offset: 3 in the tag, 8 after it.
                    let low = try little(1, at: start)
                    try copy(length: 4 + Int((tag >> 2) & 0b111), offset: Int(tag >> 5) << 8 | low, at: start)
                case 0b10:
                    try copy(length: 1 + Int(tag >> 2), offset: try little(2, at: start), at: start)
                default:
                    try copy(length: 1 + Int(tag >> 2), offset: try little(4, at: start), at: start)
                }
            }
            guard written == output.count else {
                throw Snappy.error("the block ends after \(written) of the \(output.count) bytes its preamble states", at: input.count)
            }
        }

        /// Bytes copied from the input: a length of 1…60 in the tag, or (tags 60…63) in the
        /// 1…4 little-endian bytes after it, minus one.
        private mutating func literal(_ tag: UInt8, at start: Int) throws(ProtocolError) {
            var length = Int(tag >> 2)
            if length >= 60 { length = try little(length - 59, at: start) }
            length += 1
            guard input.count - position >= length else {
                throw Snappy.error("a literal of \(length) bytes runs past the end of the body (\(input.count - position) left)", at: start)
            }
            guard output.count - written >= length else {
                throw Snappy.error("a literal of \(length) bytes runs past the \(output.count) bytes the preamble states", at: start)
            }
            // Both counts were checked above, so neither buffer is empty here.
            (output.baseAddress! + written).update(from: input.baseAddress! + position, count: length)
            position += length
            written += length
        }

        /// Bytes repeated from `offset` back in the output. An offset shorter than the length
        /// repeats a pattern (a run), so those are copied byte by byte.
        private mutating func copy(length: Int, offset: Int, at start: Int) throws(ProtocolError) {
            guard offset > 0 else { throw Snappy.error("a copy with offset 0", at: start) }
            guard offset <= written else {
                throw Snappy.error("a copy reaches \(offset) bytes back, before the start of the output (\(written) bytes written)", at: start)
            }
            guard output.count - written >= length else {
                throw Snappy.error("a copy of \(length) bytes runs past the \(output.count) bytes the preamble states", at: start)
            }
            let from = written - offset
            if offset >= length {
                (output.baseAddress! + written).update(from: output.baseAddress! + from, count: length)
            } else {
                for i in 0..<length { output[written + i] = output[from + i] }
            }
            written += length
        }

        /// `count` little-endian bytes after a tag.
        private mutating func little(_ count: Int, at start: Int) throws(ProtocolError) -> Int {
            guard input.count - position >= count else {
                throw Snappy.error("the body ends inside the element that starts here", at: start)
            }
            var value = 0
            for i in 0..<count { value |= Int(input[position + i]) << (8 * i) }
            position += count
            return value
        }
    }
}
