import Foundation
import Testing
import SluicePipeline
import SluiceTesting

/// Slowloris against the real binary: many connections that each trickle a request head, one
/// byte a second, to hold the server's connections. With the defaults (`server.max_connections`
/// 1024, `server.request_timeout` 10s) they neither stop a normal request nor stay for good.
/// The server is its own process, as users run it, so it is not sharing this test process's
/// threads with every other suite.
@Suite("Slowloris", .serialized, .timeLimit(.minutes(5)))
struct SlowlorisTests {
    static let trickling = 200

    @Test("200 connections trickling one byte a second do not stop a normal request from being answered within a second; each is cut with 408")
    func slowloris() async throws {
        let server = try ServerProcess(arguments: ["serve", "--http", "127.0.0.1:0"])
        let port = server.http
        let attackers = try (0..<Self.trickling).map { _ in try RawConnection(port: port) }
        let head = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 60)
        let rounds = Watched(0)
        // Load generation, not a wait: one byte on every connection each second, until 2 s
        // before request_timeout (10s). A byte written after the server has cut a connection
        // draws a reset, and a reset can discard the 408 not yet read.
        let connected = ContinuousClock.now
        let trickle = Task {
            var clock = connected
            for i in 0..<head.count where clock < connected.advanced(by: .seconds(8)) {
                for connection in attackers { connection.send(bytes: [head[i]]) }
                rounds.update { $0 += 1 }
                clock = clock.advanced(by: .seconds(1))
                try await Task.sleep(until: clock)
            }
        }
        // Every attacker is connected and has sent a byte of its head.
        await rounds.wait { $0 >= 1 }

        // A normal request on a new connection is answered within a second, a few times over.
        for path in ["/healthz", "/readyz", "/api/v2/analytics/aggregate"] {
            let normal = try RawConnection(port: port, receiveTimeout: 1)
            normal.send("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let (n, text) = try await normal.receive()
            #expect(n > 0 && text.hasPrefix("HTTP/1.1 200"), "\(path) not answered within 1 s while \(Self.trickling) connections trickle: \(n) \(text)")
        }

        // Each trickling connection is answered 408 and closed once request_timeout is up.
        var cut = 0
        for connection in attackers {
            let reply = try await connection.readToEnd()
            if reply.status == 408 && reply.closed { cut += 1 }
        }
        #expect(cut == Self.trickling)
        trickle.cancel()
        _ = try await server.terminate()
    }
}
