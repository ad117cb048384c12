import Foundation
import Testing
import SluiceTesting
@testable import SluiceNATS

/// A handshake that goes wrong, against a fake server that says exactly what a test wants.
@Suite("NATS handshake failures")
struct NATSHandshakeTests {
    /// Listens on a free loopback port, accepts one connection, sends `greeting`, reads until
    /// the client's first `PING`, then sends `answer` and closes.
    static func fakeServer(greeting: String, answer: String) throws -> (port: Int, done: Task<Void, any Error>) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let port = try LoopbackSockets.freePort()
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard LoopbackSockets.withAddress(port: port, { bind(fd, $0, $1) }) == 0, listen(fd, 1) == 0 else {
            close(fd)
            throw NATSServerPeer.Failure(description: "cannot listen on \(port)")
        }
        // Started now: the client connects as soon as this returns.
        let done = startedOnAThread {
            defer { close(fd) }
            let connection = accept(fd, nil, nil)
            defer { close(connection) }
            _ = Array(greeting.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4_096)
            while !String(decoding: received, as: UTF8.self).contains("PING\r\n") {
                let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                received += chunk[..<n]
            }
            #expect(String(decoding: received, as: UTF8.self).hasPrefix("CONNECT {"), "the client's first words")
            _ = Array(answer.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
        }
        return (port, done)
    }

    /// Generous timeouts: the whole suite runs at once, and the fake server is a thread of it.
    static func configuration(_ port: Int) -> NATSClient.Configuration {
        var configuration = NATSClient.Configuration(url: "nats://127.0.0.1:\(port)")
        configuration.connectTimeout = .seconds(60)
        return configuration
    }

    static let info = #"INFO {"server_id":"fake","version":"2.9.10","headers":true,"max_payload":1024}"# + "\r\n"

    @Test("a server that refuses the CONNECT fails the connect with its reason")
    func refused() async throws {
        let (port, done) = try Self.fakeServer(greeting: Self.info, answer: "-ERR 'Authorization Violation'\r\n")
        await #expect {
            _ = try await NATSClient.connect(Self.configuration(port))
        } throws: { error in
            (error as? NATSError)?.code == .server && "\(error)".contains("Authorization Violation")
        }
        try await done.value
    }

    @Test("a server that speaks something else fails the connect with a protocol error naming what it sent")
    func garbage() async throws {
        let (port, done) = try Self.fakeServer(greeting: Self.info, answer: "HTTP/1.1 400 Bad Request\r\n")
        await #expect {
            _ = try await NATSClient.connect(Self.configuration(port))
        } throws: { error in
            (error as? NATSError)?.code == .protocolViolation && "\(error)".contains("HTTP/1.1")
        }
        try await done.value
    }

    @Test("nothing listening fails the connect with the address")
    func nobody() async throws {
        let port = try LoopbackSockets.freePort()
        await #expect {
            _ = try await NATSClient.connect(Self.configuration(port))
        } throws: { error in
            (error as? NATSError)?.code == .connection && "\(error)".contains("127.0.0.1:\(port)")
        }
    }

    @Test("a payload over the server's max_payload is refused before it is sent")
    func tooLarge() async throws {
        let (port, done) = try Self.fakeServer(greeting: Self.info, answer: "PONG\r\n")
        let client = try await NATSClient.connect(Self.configuration(port))
        #expect { try client.publish("a", payload: [UInt8](repeating: 0, count: 1_025)) } throws: { "\($0)".contains("max_payload of 1024") }
        try client.publish("a", payload: [UInt8](repeating: 0, count: 1_024))
        await client.close()
        try await done.value
    }
}
