/// What a client sends, written as the client protocol spells it.
enum NATSCommand: Sendable {
    /// `CONNECT {json}`.
    case connect([UInt8])
    /// `PUB` or, with headers, `HPUB`.
    case publish(subject: String, replyTo: String?, headers: NATSHeaders?, payload: [UInt8])
    case subscribe(subject: String, queue: String?, sid: UInt64)
    /// `UNSUB sid [max]`: with `after`, the server ends it after that many more messages.
    case unsubscribe(sid: UInt64, after: Int?)
    case ping
    case pong

    /// Appends the command's bytes. Subjects must be non-empty and hold no space, tab or line
    /// break; the caller checks them with `NATSCommand.check(subject:)`.
    func encode(into out: inout [UInt8]) throws(NATSError) {
        switch self {
        case .connect(let json):
            out += "CONNECT ".utf8
            out += json
        case .publish(let subject, let replyTo, let headers, let payload):
            let reply = replyTo.map { " " + $0 } ?? ""
            if let headers {
                let block = try headers.encoded()
                out += "HPUB \(subject)\(reply) \(block.count) \(block.count + payload.count)\r\n".utf8
                out += block
            } else {
                out += "PUB \(subject)\(reply) \(payload.count)\r\n".utf8
            }
            out += payload
        case .subscribe(let subject, let queue, let sid):
            out += "SUB \(subject)\(queue.map { " " + $0 } ?? "") \(sid)".utf8
        case .unsubscribe(let sid, let after):
            out += "UNSUB \(sid)\(after.map { " \($0)" } ?? "")".utf8
        case .ping:
            out += "PING".utf8
        case .pong:
            out += "PONG".utf8
        }
        out += "\r\n".utf8
    }

    /// Refuses a subject (or queue group, or reply subject) the protocol cannot carry.
    static func check(subject: String, _ what: String = "subject") throws(NATSError) {
        guard !subject.isEmpty, !subject.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }),
              !subject.hasPrefix("."), !subject.hasSuffix("."), !subject.contains("..") else {
            throw NATSError(.protocolViolation, "\(subject.debugDescription) is not a valid NATS \(what): it must be non-empty tokens separated by dots, with no spaces or control characters")
        }
    }
}
