import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SluiceConfig
import SluiceServer
import SluiceStore
import SluiceTesting

/// A real `sluice serve` in-process on free loopback ports, and a small HTTP client for it.
public final class LiveServer: Sendable {
    public let server: SluiceServer
    public let task: Task<Void, any Error>
    public let bound: SluiceServer.Bound
    public let dataDirectory: String
    /// The server's own blocking pool, stopped with it: a test may hold every thread of it
    /// (`HeldPool`) without stalling the servers of the tests that run beside it.
    public let blockingPool: BlockingWork.Pool

    /// Starts a server on `dataDirectory` (a new temporary one by default), logging to `logger`
    /// (nowhere by default), with a blocking pool of its own.
    public static func start(_ yaml: String = "", tcp: Bool = false, udp: Bool = false, statsdUDP: Bool = false, statsdTCP: Bool = false,
                      dataDirectory: String? = nil, logger: Logger? = nil) async throws -> LiveServer {
        let configuration = try Configuration.parse(yaml: yaml)
        let directory = dataDirectory ?? TestFiles.temporaryDirectory("sluice-serve")
        let ports = AsyncStream<SluiceServer.Bound>.makeStream()
        let server = try SluiceServer(
            configuration: configuration,
            options: .init(http: HostPort("127.0.0.1:0"), tcp: tcp ? HostPort("127.0.0.1:0") : nil, udp: udp ? HostPort("127.0.0.1:0") : nil,
                           statsdUDP: statsdUDP ? HostPort("127.0.0.1:0") : nil, statsdTCP: statsdTCP ? HostPort("127.0.0.1:0") : nil,
                           dataDirectory: directory),
            logger: logger ?? Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            bound: { ports.continuation.yield($0) })
        let pool = BlockingWork.Pool()
        let task = Task {
            defer { Task { await pool.shutdown() } }
            try await BlockingWork.$pool.withValue(pool) { try await server.run() }
        }
        var iterator = ports.stream.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw ServerError("the server did not start") }
        return LiveServer(server: server, task: task, bound: bound, dataDirectory: directory, blockingPool: pool)
    }

    private init(server: SluiceServer, task: Task<Void, any Error>, bound: SluiceServer.Bound, dataDirectory: String, blockingPool: BlockingWork.Pool) {
        self.server = server
        self.task = task
        self.bound = bound
        self.dataDirectory = dataDirectory
        self.blockingPool = blockingPool
    }

    public struct Reply {
        public var status: Int
        public var body: String
        public var headers: [String: String]
        public var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
    }

    public func request(_ method: String, _ path: String, body: String? = nil, token: String? = nil, contentType: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(bound.http!)\(path)")!)
        request.httpMethod = method
        // A server that hangs fails the test instead of holding it.
        request.timeoutInterval = 120
        if let body { request.httpBody = Data(body.utf8) }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        // What a JSON client sends (URLSession's own default, a form type, is refused with 415).
        if body != nil { request.setValue(contentType ?? "application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
        return Reply(status: http.statusCode, body: String(decoding: data, as: UTF8.self), headers: headers)
    }

    public func stop() async throws {
        await server.shutdown()
        try await task.value
    }
}
