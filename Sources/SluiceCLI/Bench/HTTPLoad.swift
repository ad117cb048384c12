import Logging
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceModel
import SluiceServer

/// HTTP ingest under load, for `sluice bench --http`: an in-process server on loopback, fed
/// by concurrent keep-alive clients whose request bodies are built before the clock starts, so
/// the client costs one write per request and the server is what is measured. Public for the
/// throughput suite in `Benchmarks/Throughput`.
public struct HTTPLoad: Sendable {
    public let clients: Int
    /// Request bodies, each NDJSON of 1,000–5,000 lines, dealt to the clients in turn.
    public let bodies: [[UInt8]]
    public let records: Int

    public init(workload: [UInt8], clients: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var bodies: [[UInt8]] = []
        var records = 0
        var start = 0
        while start < workload.count {
            let lines = Int.random(in: 1_000...5_000, using: &random)
            var end = start
            for _ in 0..<lines {
                guard end < workload.count, let newline = workload[end...].firstIndex(of: 0x0A) else { end = workload.count; break }
                end = newline + 1
            }
            bodies.append(Array(workload[start..<end]))
            records += workload[start..<end].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            start = end
        }
        self.clients = clients
        self.bodies = bodies
        self.records = records
    }

    /// Seconds from the first request to the pipeline drained (graceful shutdown finished).
    public func run() async throws -> Double {
        var configuration = Configuration()
        configuration.server.maxBodyBytes = 16 << 20
        let ports = AsyncStream.makeStream(of: Int.self)
        let server = try SluiceServer(
            configuration: configuration, options: .init(http: HostPort("127.0.0.1:0"), tcp: nil, udp: nil, dataDirectory: nil),
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        ) { bound in
            if let port = bound.http { ports.continuation.yield(port) }
        }
        async let served: Void = server.run()
        var iterator = ports.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw BenchError("the server did not start") }

        let requests = bodies.map { body -> ByteBuffer in
            var buffer = ByteBuffer()
            buffer.writeString("POST /api/v2/analytics/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(body.count)\r\n\r\n")
            buffer.writeBytes(body)
            return buffer
        }
        let clock = ContinuousClock()
        let started = clock.now
        let refused = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in 0..<clients {
                let mine = stride(from: client, to: requests.count, by: clients).map { requests[$0] }
                group.addTask { try await Self.send(mine, port: port) }
            }
            return try await group.reduce(0, +)
        }
        await server.shutdown()
        try await served
        let elapsed = started.duration(to: clock.now)
        if refused > 0 { throw BenchError("\(refused) requests were not answered 202") }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Sends the requests one after another on one connection; returns how many were not 202.
    static func send(_ requests: [ByteBuffer], port: Int) async throws -> Int {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var responses = inbound.makeAsyncIterator()
            var pending = ByteBuffer()
            var refused = 0
            for request in requests {
                try await outbound.write(request)
                // A response: headers, then Content-Length bytes of body.
                while true {
                    let view = pending.readableBytesView
                    if let end = view.firstRange(of: [13, 10, 13, 10]) {
                        let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
                        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: " ")) } ?? 0
                        let total = end.upperBound - view.startIndex + length
                        if pending.readableBytes >= total {
                            if !head.hasPrefix("HTTP/1.1 202") { refused += 1 }
                            pending.moveReaderIndex(forwardBy: total)
                            pending.discardReadBytes()
                            break
                        }
                    }
                    guard var more = try await responses.next() else { throw BenchError("the server closed the connection") }
                    pending.writeBuffer(&more)
                }
            }
            return refused
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}
