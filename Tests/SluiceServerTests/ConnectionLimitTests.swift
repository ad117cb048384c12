import Foundation
import Testing
import SluiceTesting

/// `server.max_connections` and `server.idle_timeout` hold for HTTP as for TCP.
@Suite("HTTP connection limits", .serialized)
struct ConnectionLimitTests {
    /// A plain TCP connection to the server, with a receive timeout so no test can hang.
    final class Connection: Sendable {
        let fd: Int32

        /// `receiveTimeout`: seconds a `receive()` waits before it gives up with `-1`.
        init(port: Int, receiveTimeout: Int = 60) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
            var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        func send(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Waits until bytes arrive (`> 0`), the server closes (`0`) or the receive timeout passes (`-1`).
        func receive() async throws -> (Int, String) {
            try await offThePool { self.blockingReceive() }
        }

        private func blockingReceive() -> (Int, String) {
            var buffer = [UInt8](repeating: 0, count: 4_096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            return (n, n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : "")
        }

        /// Whether the server has closed this connection, without waiting.
        var isClosedByServer: Bool {
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
        }

        deinit { close(fd) }
    }

    @Test("a connection that sends nothing is closed after idle_timeout")
    func idleTimeout() async throws {
        let server = try await LiveServer.start("server:\n  idle_timeout: 500ms\n")
        let idle = try Connection(port: server.bound.http!)
        // Without the timeout this would wait 60 s and fail with -1.
        #expect(try await idle.receive().0 == 0)
        // A connection in use is answered as usual.
        let busy = try Connection(port: server.bound.http!)
        busy.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await busy.receive().1.hasPrefix("HTTP/1.1 200"))
        try await server.stop()
    }

    @Test("past max_connections a new connection waits until one closes; it is not served beside them")
    func maxConnections() async throws {
        let server = try await LiveServer.start("server:\n  max_connections: 4\n  idle_timeout: 2s\n")
        // One request each as it connects, so the server has surely taken all four before the
        // fifth knocks (it may take a burst of waiting connections at once); then they sit idle.
        var idle: [Connection] = []
        for _ in 0..<4 {
            let connection = try Connection(port: server.bound.http!)
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await connection.receive().1.hasPrefix("HTTP/1.1 200"))
            idle.append(connection)
        }
        // The kernel completes the handshake; the server does not take the fifth until one of
        // the four is closed (here, by the idle timeout).
        let fifth = try Connection(port: server.bound.http!)
        fifth.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let (n, text) = try await fifth.receive()
        #expect(n > 0 && text.hasPrefix("HTTP/1.1 200"), "\(n) \(text)")
        // Served only after a slot freed: at least one of the four had been closed by then.
        #expect(idle.contains { $0.isClosedByServer })
        try await server.stop()
    }
}
