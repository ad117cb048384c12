import CZlib

/// `Content-Encoding: gzip` (and `deflate`) request bodies, inflated with the system's zlib.
public enum Gzip {
    /// Inflates a gzip (or zlib) stream, refusing one that would inflate past `limit` bytes so
    /// that a small body cannot expand into gigabytes.
    public static func inflate(_ input: UnsafeBufferPointer<UInt8>, limit: Int) throws(ProtocolError) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib framing from the header.
        guard sluice_inflate_init(&stream, 15 + 32) == Z_OK else { throw ProtocolError("gzip: zlib could not start") }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(Swift.min(limit, Swift.max(4096, input.count * 4)))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        while true {
            let status = chunk.withUnsafeMutableBufferPointer { buffer -> Int32 in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            let produced = chunk.count - Int(stream.avail_out)
            if output.count + produced > limit {
                throw ProtocolError("the gzip body inflates past the body limit of \(limit) bytes")
            }
            output.append(contentsOf: chunk[..<produced])
            switch status {
            case Z_STREAM_END:
                return output
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw ProtocolError("the gzip body ends early (\(input.count) bytes, truncated)")
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw ProtocolError("the body is not valid gzip: \(message) after \(Int(stream.total_in)) bytes")
            }
        }
    }
}
