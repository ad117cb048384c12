/// The header block of an `HPUB` or `HMSG`: `NATS/1.0[ status[ description]]`, then
/// `Name: value` lines, then an empty line.
///
/// Names keep their order and case; lookups ignore case, as the Go and Python clients' do.
public struct NATSHeaders: Sendable, Hashable {
    /// The status a server sets on its own messages (503 no responders, 404 no messages,
    /// 408 request timeout, 100 idle heartbeat).
    public var status: Int?
    public var statusDescription: String?
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        for (name, value) in fields { append(name, value) }
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    public mutating func append(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    public static func == (lhs: NATSHeaders, rhs: NATSHeaders) -> Bool {
        lhs.status == rhs.status && lhs.statusDescription == rhs.statusDescription
            && lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }

    /// The block's bytes, ending with the empty line. A name with a colon, space or line break,
    /// or a value with a line break, cannot be written and is refused.
    func encoded() throws(NATSError) -> [UInt8] {
        var out = Array("NATS/1.0\r\n".utf8)
        for (name, value) in fields {
            guard !name.isEmpty, !name.utf8.contains(where: { $0 == 0x3A || $0 <= 0x20 || $0 == 0x7F }) else {
                throw NATSError(.protocolViolation, "header name \(name.debugDescription) is empty or holds a colon, space or control character")
            }
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
                throw NATSError(.protocolViolation, "the value of header \(name) holds a line break")
            }
            out += name.utf8
            out += ": ".utf8
            out += value.utf8
            out += "\r\n".utf8
        }
        out += "\r\n".utf8
        return out
    }

    /// Reads a block as a server sends it.
    static func decode(_ bytes: ArraySlice<UInt8>) throws(NATSError) -> NATSHeaders {
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let first = lines.first, first.hasPrefix("NATS/1.0") else {
            throw .protocolViolation("a header block that does not start with NATS/1.0")
        }
        lines.removeFirst()
        var headers = NATSHeaders()
        let statusLine = first.dropFirst("NATS/1.0".count).drop { $0 == " " }
        if !statusLine.isEmpty {
            let code = statusLine.prefix { $0 != " " }
            guard let status = Int(code) else { throw .protocolViolation("header status \(String(statusLine).debugDescription) is not a number") }
            headers.status = status
            let description = statusLine.dropFirst(code.count).drop { $0 == " " }
            if !description.isEmpty { headers.statusDescription = String(description) }
        }
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw .protocolViolation("header line \(String(line).debugDescription) has no colon")
            }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append(String(line[..<colon]), String(value))
        }
        return headers
    }
}
