import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to the server, with a receive timeout so no test can hang.
public final class RawConnection: Sendable {
    public let fd: Int32

    /// `receiveTimeout`: seconds a `receive()` waits before it gives up with `-1`.
    public init(port: Int, receiveTimeout: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = LoopbackSockets.withAddress(port: port) { connect(fd, $0, $1) }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Waits until bytes arrive (`> 0`), the server closes (`0`) or the receive timeout passes (`-1`).
    public func receive() async throws -> (Int, String) {
        try await offThePool { self.blockingReceive() }
    }

    private func blockingReceive() -> (Int, String) {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        return (n, n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : "")
    }

    /// Whether the server has closed this connection, without waiting.
    public var isClosedByServer: Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }

    deinit { close(fd) }
}

/// An HTTP response as it came off the socket.
public struct RawReply: Sendable {
    public var status: Int
    public var head: String
    public var body: String
    /// The server closed the connection after it.
    public var closed: Bool

    public init(_ text: String, closed: Bool) {
        let parts = text.components(separatedBy: "\r\n\r\n")
        head = parts[0]
        body = parts.dropFirst().joined(separator: "\r\n\r\n")
        status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        self.closed = closed
    }

    public func header(_ name: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == name.lowercased() { return pair[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
}

extension RawConnection {
    /// Everything the server sends until it closes the connection (or 60 s pass: `closed` false).
    public func readToEnd() async throws -> RawReply {
        var text = ""
        while true {
            let (n, chunk) = try await receive()
            if n <= 0 { return RawReply(text, closed: n == 0) }
            text += chunk
        }
    }

    /// One response whose head says `Content-Length`, or that ends with the connection.
    public func readResponse() async throws -> RawReply {
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
    public func send(bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

extension RawConnection {
    /// Waits on one thread until any of `connections` has bytes to read or was closed (or 100 s
    /// pass: none); their indices. Many blocking receives at once would each hold a thread.
    public static func readable(_ connections: [RawConnection]) async throws -> [Int] {
        let fds = connections.map(\.fd)
        return try await offThePool {
            var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&polled, nfds_t(polled.count), 100_000) > 0 else { return [] }
            return polled.indices.filter { polled[$0].revents != 0 }
        }
    }
}
