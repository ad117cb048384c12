import ArgumentParser
import Logging
import SluiceConfig
import SluiceModel
import SluiceServer

/// `sluice serve`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API, socket listeners and dashboard over one pipeline with its store.",
        usage: "sluice serve [<options>]",
        discussion: """
            Records arrive over HTTP (POST /api/v2/analytics/metrics and /cache: a JSON object, \
            a JSON array or NDJSON; POST /v1/metrics and /v1/traces: OTLP/HTTP; POST \
            /api/v1/write: Prometheus remote write; POST /api/v2/write and /write: InfluxDB line \
            protocol; any of them gzip), TCP (NDJSON lines), UDP (NDJSON lines per datagram) and \
            StatsD/DogStatsD over UDP and TCP, and all feed one pipeline: window aggregates, \
            anomalies, token usage and budgets, stored in --data-dir. Queries: GET /api/v2/analytics/aggregate, /performance, \
            /tenants/{id}/metrics, /tokens, /anomalies, /retention; live output as Server-Sent \
            Events at /api/v2/analytics/stream; Prometheus metrics at /metrics; /healthz and \
            /readyz. Bearer tokens (auth.tokens) map to a tenant or admin; with none, the server \
            listens on loopback only. SIGINT or SIGTERM stops the listeners, drains the pipeline \
            and syncs the store.

            With cluster.nats and cluster.node_id in --config, the server is one node of a \
            cluster on NATS JetStream: what it takes goes to the stream (202 once JetStream has \
            it), it aggregates the partitions it holds a lease on into --data-dir/partitions, and \
            it answers queries for the whole cluster. See `sluice cluster status`.

            Example:
              sluice serve --http 127.0.0.1:8080 --tcp 127.0.0.1:9000 \\
                --data-dir ./sluice-data
              curl -s -XPOST localhost:8080/api/v2/analytics/metrics \\
                -H 'Content-Type: application/json' -d '{"metric_name":"cpu","value":0.5}'
            """
    )

    @Option(help: ArgumentHelp("A YAML configuration file (see Config/sluice.yml).", valueName: "FILE")) var config: String?
    @Option(help: ArgumentHelp("HTTP listener (default: server.http, 127.0.0.1:8080).", valueName: "HOST:PORT")) var http: String?
    @Option(help: ArgumentHelp("TCP NDJSON listener (default: server.tcp, off).", valueName: "HOST:PORT")) var tcp: String?
    @Option(help: ArgumentHelp("UDP NDJSON listener (default: server.udp, off).", valueName: "HOST:PORT")) var udp: String?
    @Option(name: .customLong("statsd-udp"), help: ArgumentHelp(
        "StatsD/DogStatsD UDP listener for lines such as api.hits:1|c|#route:/users (default: ingest.statsd.udp, off).",
        discussion: """
            Counters (c) are divided by their sample rate, gauges (g) take +/- changes, timers and \
            histograms (ms, h, d) are samples as sent; sets (s) become one distinct count per \
            series and smallest window length. DogStatsD tags become labels; the tenant is a \
            tenant_id tag, else ingest.statsd.tenant.
            """,
        valueName: "HOST:PORT")) var statsdUDP: String?
    @Option(name: .customLong("statsd-tcp"), help: ArgumentHelp(
        "StatsD/DogStatsD TCP listener, newline-separated lines (default: ingest.statsd.tcp, off).", valueName: "HOST:PORT")) var statsdTCP: String?
    @Option(help: ArgumentHelp("The data directory.", valueName: "DIR")) var dataDir = "./sluice-data"

    func validate() throws {
        for (name, value) in [("--http", http), ("--tcp", tcp), ("--udp", udp), ("--statsd-udp", statsdUDP), ("--statsd-tcp", statsdTCP)] {
            if let value, HostPort(value) == nil { throw ValidationError("\(name) \(value): expected HOST:PORT such as 127.0.0.1:8080") }
        }
    }

    func run() async throws {
        let configuration = try loadConfiguration(config)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "sluice")
        let options = SluiceServer.Options(
            http: (http ?? configuration.server.http).flatMap(HostPort.init),
            tcp: (tcp ?? configuration.server.tcp).flatMap(HostPort.init),
            udp: (udp ?? configuration.server.udp).flatMap(HostPort.init),
            statsdUDP: (statsdUDP ?? configuration.ingest.statsd.udp).flatMap(HostPort.init),
            statsdTCP: (statsdTCP ?? configuration.ingest.statsd.tcp).flatMap(HostPort.init),
            dataDirectory: dataDir)
        let server: SluiceServer
        do {
            server = try SluiceServer(configuration: configuration, options: options, logger: logger, bound: { bound in
                var where_: [String] = []
                if let p = bound.http { where_.append("http://\(options.http!.host):\(p)") }
                if let p = bound.tcp { where_.append("tcp \(options.tcp!.host):\(p)") }
                if let p = bound.udp { where_.append("udp \(options.udp!.host):\(p)") }
                if let p = bound.statsdUDP { where_.append("statsd udp \(options.statsdUDP!.host):\(p)") }
                if let p = bound.statsdTCP { where_.append("statsd tcp \(options.statsdTCP!.host):\(p)") }
                StandardError.write("sluice: serving on \(where_.joined(separator: ", ")); data in \(options.dataDirectory ?? "-")\n")
            })
        } catch {
            throw ValidationError("\(error)")
        }
        ShutdownSignals.install { await server.shutdown() }
        try await server.run()
    }
}
