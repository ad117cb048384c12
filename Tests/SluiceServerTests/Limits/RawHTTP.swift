import Foundation
import SluiceTesting

typealias Connection = ConnectionLimitTests.Connection

/// An HTTP response as it came off the socket.
struct RawReply {
    var status: Int
    var head: String
    var body: String
    /// The server closed the connection after it.
    var closed: Bool

    init(_ text: String, closed: Bool) {
        let parts = text.components(separatedBy: "\r\n\r\n")
        head = parts[0]
        body = parts.dropFirst().joined(separator: "\r\n\r\n")
        status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        self.closed = closed
    }

    func header(_ name: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == name.lowercased() { return pair[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
}

extension ConnectionLimitTests.Connection {
    /// Everything the server sends until it closes the connection (or 60 s pass: `closed` false).
    func readToEnd() async throws -> RawReply {
        var text = ""
        while true {
            let (n, chunk) = try await receive()
            if n <= 0 { return RawReply(text, closed: n == 0) }
            text += chunk
        }
    }

    /// One response whose head says `Content-Length`, or that ends with the connection.
    func readResponse() async throws -> RawReply {
        var text = ""
        while true {
            if let end = text.range(of: "\r\n\r\n") {
                let reply = RawReply(String(text[..<end.upperBound]), closed: false)
                if let length = reply.header("content-length").flatMap(Int.init), text.utf8.count - text[..<end.upperBound].utf8.count >= length {
                    return RawReply(text, closed: false)
                }
            }
            let (n, chunk) = try await receive()
            if n <= 0 { return RawReply(text, closed: n == 0) }
            text += chunk
        }
    }

    /// Sends bytes as they are (a body need not be text).
    func send(bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

extension ConnectionLimitTests.Connection {
    /// Waits on one thread until any of `connections` has bytes to read or was closed (or 100 s
    /// pass: none); their indices. Many blocking receives at once would each hold a thread.
    static func readable(_ connections: [ConnectionLimitTests.Connection]) async throws -> [Int] {
        let fds = connections.map(\.fd)
        return try await offThePool {
            var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&polled, nfds_t(polled.count), 100_000) > 0 else { return [] }
            return polled.indices.filter { polled[$0].revents != 0 }
        }
    }
}
