/// Reads the operations a NATS server sends from bytes as they arrive, however the stream is
/// cut. Pure: bytes in, operations out, no I/O.
///
/// The grammar is the client protocol's (docs.nats.io, "Client Protocol"): a control line ended
/// by CRLF, operation names in any case, arguments split by spaces or tabs; `MSG` and `HMSG`
/// are followed by their payload and a CRLF.
public struct NATSProtocolParser: Sendable {
    /// The server's own default `max_control_line`.
    public static let maximumControlLine = 4_096
    /// A payload announced larger than this is refused rather than waited for.
    public static let maximumPayload = 64 << 20

    private var buffer: [UInt8] = []
    private var start = 0
    /// A message whose control line is read and whose payload is awaited.
    private var pending: Pending?

    private struct Pending: Sendable {
        var subject: String
        var sid: UInt64
        var replyTo: String?
        var headerBytes: Int?
        var totalBytes: Int
    }

    public init() {}

    /// Takes the next bytes of the stream.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 65_536, start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole operation, or `nil` until more bytes arrive. After an error the stream
    /// cannot be read further: the connection must be dropped.
    public mutating func next() throws(NATSError) -> NATSServerOperation? {
        if pending == nil {
            guard let end = lineEnd() else {
                if buffer.count - start > Self.maximumControlLine {
                    throw .protocolViolation("a control line longer than \(Self.maximumControlLine) bytes")
                }
                return nil
            }
            let line = buffer[start..<end]
            start = end + 2
            if let operation = try control(line) { return operation }
        }
        guard let message = pending else { return nil }
        guard buffer.count - start >= message.totalBytes + 2 else { return nil }
        let payloadEnd = start + message.totalBytes
        guard buffer[payloadEnd] == 0x0D, buffer[payloadEnd + 1] == 0x0A else {
            throw .protocolViolation("the payload of a message on \(message.subject) is not followed by CRLF")
        }
        var headers: NATSHeaders?
        var bodyStart = start
        if let headerBytes = message.headerBytes {
            headers = try NATSHeaders.decode(buffer[start..<start + headerBytes])
            bodyStart += headerBytes
        }
        let payload = Array(buffer[bodyStart..<payloadEnd])
        start = payloadEnd + 2
        pending = nil
        return .message(NATSMessage(subject: message.subject, sid: message.sid, replyTo: message.replyTo, headers: headers, payload: payload))
    }

    /// The index of the CR of the first CRLF from `start`.
    private func lineEnd() -> Int? {
        var i = start
        let limit = min(buffer.count, start + Self.maximumControlLine + 2)
        while i + 1 < limit {
            if buffer[i] == 0x0D, buffer[i + 1] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// A control line: a whole operation, or `nil` with `pending` set for a message.
    private mutating func control(_ line: ArraySlice<UInt8>) throws(NATSError) -> NATSServerOperation? {
        let nameEnd = line.firstIndex { $0 == 0x20 || $0 == 0x09 } ?? line.endIndex
        let name = String(decoding: line[line.startIndex..<nameEnd], as: UTF8.self).uppercased()
        let rest = line[nameEnd...].drop { $0 == 0x20 || $0 == 0x09 }
        switch name {
        case "PING": return .ping
        case "PONG": return .pong
        case "+OK": return .ok
        case "-ERR":
            var text = String(decoding: rest, as: UTF8.self)
            if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") { text = String(text.dropFirst().dropLast()) }
            return .error(text)
        case "INFO":
            guard rest.first == 0x7B else { throw .protocolViolation("INFO without a JSON object") }
            return .info(Array(rest))
        case "MSG", "HMSG":
            let arguments = rest.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map { String(decoding: $0, as: UTF8.self) }
            let headers = name == "HMSG"
            let counts = headers ? 2 : 1
            guard arguments.count == 2 + counts || arguments.count == 3 + counts else {
                throw .protocolViolation("\(name) with \(arguments.count) arguments: \(String(decoding: line, as: UTF8.self).debugDescription)")
            }
            guard let sid = UInt64(arguments[1]) else { throw .protocolViolation("\(name) subscription id \(arguments[1].debugDescription) is not a number") }
            let sizes = arguments.suffix(counts).map { Int($0) }
            guard let total = sizes.last ?? nil, total >= 0, total <= Self.maximumPayload else {
                throw .protocolViolation("\(name) size \(arguments.last!.debugDescription) is not a number up to \(Self.maximumPayload)")
            }
            var headerBytes: Int?
            if headers {
                guard let h = sizes[0], h >= 0, h <= total else {
                    throw .protocolViolation("HMSG header size \(arguments[arguments.count - 2].debugDescription) is not a number up to its total")
                }
                headerBytes = h
            }
            let replyTo = arguments.count == 3 + counts ? arguments[2] : nil
            pending = Pending(subject: arguments[0], sid: sid, replyTo: replyTo, headerBytes: headerBytes, totalBytes: total)
            return nil
        default:
            throw .protocolViolation("unknown operation \(String(decoding: line.prefix(40), as: UTF8.self).debugDescription)")
        }
    }
}
