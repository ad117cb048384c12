import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// `server.max_connections` and `server.idle_timeout` hold for HTTP as for TCP.
@Suite("HTTP connection limits", .serialized)
struct ConnectionLimitTests {
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
