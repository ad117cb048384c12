import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import ServiceLifecycle
import SluiceClient

/// A host application wired to Sluice through `SluiceClient` (design §11): a Hummingbird
/// server with an LRU cache over a fake query layer and a simulated LLM endpoint. It counts
/// what it serves at `GET /stats`, so that Sluice's numbers can be checked against it.
@main
struct ExampleApp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-example-app",
        abstract: "A Hummingbird app that reports its requests, cache, queries and LLM token usage to Sluice.",
        discussion: """
            Routes:
              GET  /items/{id}  from an LRU cache named "items" (100 entries);
                                a miss costs a 1-3 ms fake query
              GET  /search?q=   a 2-5 ms fake query
              POST /chat        {"model": M, "prompt": TEXT}, optional
                                X-Request-Id: a simulated LLM call; a repeated
                                id is answered again and counted once
              GET  /stats       the app's own counts, to compare with Sluice's

            Each request becomes a performance sample (route pattern, response
            time, DB time, resident memory) for tenant --tenant. Cache counts and
            swift-metrics counters, gauges and timers are reported every
            --flush-interval, token usage once per request id. SIGTERM or SIGINT
            sends what is buffered, then exits 0.

            Beside a local server:
              swift run sluice serve --data-dir /tmp/sluice-data &
              swift run sluice-example-app &
              curl -s 127.0.0.1:8081/items/7
              curl -s 127.0.0.1:8081/stats
            """
    )

    @Option(name: .customLong("sluice"), help: "Where sluice serve listens.")
    var sluiceURL = "http://127.0.0.1:8080"

    @Option(help: "Bearer token for Sluice (a key of the server's auth.tokens).")
    var token: String?

    @Option(help: "The tenant everything is reported as.")
    var tenant = "example"

    @Option(help: "HOST:PORT this app listens on (port 0 picks a free one; the address is printed).")
    var http = "127.0.0.1:8081"

    @Option(help: "How often buffered records are sent (500ms, 1s, 10s…).")
    var flushInterval = "1s"

    @Option(help: "When Sluice is slow or down and the buffer is full: wait (nothing is lost; requests slow down) or drop-oldest (counted).")
    var bufferPolicy: String = "wait"

    @Option(help: "Records the client buffers at most.")
    var bufferCapacity = 10_000

    @Flag(help: "Run without reporting to Sluice (to measure what reporting costs).")
    var noSluice = false

    func validate() throws {
        guard WindowDuration(parsing: flushInterval).map({ $0.microseconds > 0 }) == true else {
            throw ValidationError("--flush-interval \(flushInterval) is not a positive duration such as 500ms or 1s")
        }
        guard SluiceClient.BufferPolicy(rawValue: bufferPolicy) != nil else {
            throw ValidationError("--buffer-policy must be wait or drop-oldest, not \(bufferPolicy)")
        }
        guard bufferCapacity >= 1 else { throw ValidationError("--buffer-capacity must be at least 1") }
        guard sluiceURL.hasPrefix("http://") || sluiceURL.hasPrefix("https://"), sluiceURL.split(separator: "/").count >= 2 else {
            throw ValidationError("--sluice \(sluiceURL) is not an http:// or https:// URL")
        }
        guard address != nil else { throw ValidationError("--http \(http) is not HOST:PORT") }
    }

    private var address: (host: String, port: Int)? {
        guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (String(http[..<colon]), port)
    }

    func run() async throws {
        var logger = Logger(label: "sluice-example-app")
        logger.logLevel = .info
        let interval = Duration.microseconds(WindowDuration(parsing: flushInterval)!.microseconds)
        let sluice: SluiceClient? = noSluice ? nil : SluiceClient(
            configuration: .init(url: sluiceURL, token: token, tenant: tenant, flushInterval: interval,
                                 batchSize: min(1000, bufferCapacity), bufferCapacity: bufferCapacity,
                                 bufferPolicy: SluiceClient.BufferPolicy(rawValue: bufferPolicy)!),
            logger: logger)
        if let sluice { MetricsSystem.bootstrap(SluiceMetricsFactory(client: sluice)) }

        let app = ExampleService(sluice: sluice)
        let (host, port) = address!
        let application = Application(
            router: app.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "sluice-example-app"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                // Written at once (not through stdout's buffer), for a supervisor reading it.
                var line = "sluice-example-app listening on \(host):\(bound)\n"
                line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
            },
            logger: logger)
        // Shut down in reverse: the server stops taking requests first, then the client sends
        // what is buffered.
        let services: [any Service] = (sluice.map { [$0] } ?? []) + [application]
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        if let stats = sluice?.statistics {
            logger.info("sluice client stopped", metadata: [
                "sent": "\(stats.sent)", "dropped": "\(stats.dropped)", "rejected": "\(stats.rejected)", "retries": "\(stats.retries)",
            ])
        }
    }
}
