#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel
import Yams

extension Configuration {
    /// Loads a YAML file; keys it leaves out keep their defaults.
    public static func load(path: String) throws(ConfigurationError) -> Configuration {
        guard let file = fopen(path, "r") else {
            throw .unreadable(path, String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return try parse(yaml: String(decoding: bytes, as: UTF8.self))
    }

    /// Parses YAML text; an empty document is the default configuration.
    public static func parse(yaml: String) throws(ConfigurationError) -> Configuration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw .syntax("\(error)")
        }
        var configuration = Configuration()
        guard let root else { return configuration }
        try configuration.apply(ConfigNode(node: root, path: ""))
        return configuration
    }

    mutating func apply(_ root: ConfigNode) throws(ConfigurationError) {
        let sections = ["pipeline", "ingest", "tokens", "anomaly", "retention", "store", "server", "auth", "cluster"]
        for (key, node) in try root.mapping(known: sections) {
            switch key {
            case "pipeline": try pipeline.apply(node)
            case "ingest": try ingest.apply(node)
            case "tokens": try tokens.apply(node)
            case "anomaly": try anomaly.apply(node)
            case "retention": try retention.apply(node)
            case "store": try store.apply(node)
            case "server": try server.apply(node)
            case "cluster": try cluster.apply(node)
            default: try auth.apply(node)
            }
        }
    }
}

extension Configuration.Pipeline {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["windows", "lateness", "channel_capacity", "batch_records", "checkpoint_interval"]) {
            switch key {
            case "windows":
                var lengths: [WindowDuration] = []
                for item in try value.list() { lengths.append(try item.positiveDuration()) }
                guard !lengths.isEmpty else { throw value.bad("at least one window length") }
                windows = lengths
            case "lateness": lateness = try value.duration()
            case "channel_capacity": channelCapacity = try value.integer(atLeast: 1)
            case "checkpoint_interval": checkpointInterval = try value.positiveDuration()
            default: batchRecords = try value.integer(atLeast: 1)
            }
        }
    }
}

extension Configuration.Ingest {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["max_line_bytes", "max_labels", "statsd"]) {
            switch key {
            case "max_line_bytes":
                let n = try value.byteSize()
                guard n >= 64, n <= 64 << 20 else { throw value.bad("a size from 64B to 64MiB") }
                maxLineBytes = Int(n)
            case "statsd": try statsd.apply(value)
            default: maxLabels = try value.integer(atLeast: 0)
            }
        }
    }
}

extension Configuration.Ingest.StatsD {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["udp", "tcp", "tenant"]) {
            switch key {
            case "udp": udp = value.isNull ? nil : try Configuration.Server.address(value)
            case "tcp": tcp = value.isNull ? nil : try Configuration.Server.address(value)
            default:
                if value.isNull {
                    tenant = nil
                } else {
                    let text = try value.string()
                    if let problem = TenantID.problem(text) { throw value.bad("a tenant id (\(problem))") }
                    tenant = text
                }
            }
        }
    }
}

extension Configuration.Tokens {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["pricing", "budgets", "dedupe_window", "dedupe_capacity", "forecast_window"]) {
            switch key {
            case "pricing":
                for (model, price) in try value.anyMapping() { pricing[model] = try Self.price(price) }
            case "budgets":
                for (tenant, budget) in try value.anyMapping() {
                    if let problem = TenantID.problem(tenant) { throw budget.bad("a valid tenant id as the key (\(problem))") }
                    budgets[tenant] = try Self.budget(budget)
                }
            case "dedupe_window": dedupeWindow = try value.positiveDuration()
            case "forecast_window": forecastWindow = try Self.forecastWindow(value)
            default: dedupeCapacity = try value.integer(atLeast: 1)
            }
        }
    }

    /// `0` (off), or whole minutes from 1h to 31d: the window is kept in 24 equal buckets,
    /// and a forecast needs one bucket of history.
    static func forecastWindow(_ node: ConfigNode) throws(ConfigurationError) -> WindowDuration {
        let expected = "0 (off), or a duration in whole minutes from 1h to 31d, such as 24h or 6h"
        if try node.string() == "0" { return .zero }
        guard let d = WindowDuration(parsing: try node.string()) else { throw node.bad(expected) }
        if d == .zero { return .zero }
        guard d >= .hours(1), d <= .days(31), d.microseconds % 60_000_000 == 0 else { throw node.bad(expected) }
        return d
    }

    static func price(_ node: ConfigNode) throws(ConfigurationError) -> Configuration.ModelPrice {
        var prompt: Int64?, completion: Int64?, cached: Int64?
        for (key, value) in try node.mapping(known: ["prompt_per_million_usd", "completion_per_million_usd", "cached_per_million_usd"]) {
            switch key {
            case "prompt_per_million_usd": prompt = try value.microUSD()
            case "completion_per_million_usd": completion = try value.microUSD()
            default: cached = try value.microUSD()
            }
        }
        guard let prompt else { throw .badValue("\(node.path).prompt_per_million_usd", "a price", got: "nothing", line: node.line) }
        guard let completion else { throw .badValue("\(node.path).completion_per_million_usd", "a price", got: "nothing", line: node.line) }
        return .init(promptMicroUSDPerMillion: prompt, completionMicroUSDPerMillion: completion, cachedMicroUSDPerMillion: cached)
    }

    static func budget(_ node: ConfigNode) throws(ConfigurationError) -> Configuration.Budget {
        var budget = Configuration.Budget()
        for (key, value) in try node.mapping(known: ["monthly_tokens", "monthly_usd", "thresholds"]) {
            switch key {
            case "monthly_tokens": budget.monthlyTokens = try value.unsigned()
            case "monthly_usd": budget.monthlyMicroUSD = try value.microUSD()
            default:
                var thresholds: [Double] = []
                for item in try value.list() { thresholds.append(try item.double(in: 0.000001...100)) }
                budget.thresholds = thresholds.sorted()
            }
        }
        guard budget.monthlyTokens != nil || budget.monthlyMicroUSD != nil else {
            throw node.bad("monthly_tokens and/or monthly_usd")
        }
        return budget
    }
}

extension Configuration.AnomalyDetection {
    static let knownStatistics = ["count", "sum", "min", "max", "mean", "p50", "p90", "p95", "p99"]

    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["enabled", "statistics", "metrics", "warmup", "threshold"]) {
            switch key {
            case "enabled": enabled = try value.bool()
            case "statistics": statistics = try Self.statistics(value)
            case "metrics":
                for (metric, item) in try value.anyMapping() {
                    for (k, v) in try item.mapping(known: ["statistics"]) where k == "statistics" {
                        metrics[metric] = try Self.statistics(v)
                    }
                }
            case "warmup": warmup = try value.integer(atLeast: 1)
            default: threshold = try value.double(in: 0...1)
            }
        }
    }

    static func statistics(_ node: ConfigNode) throws(ConfigurationError) -> [String] {
        var out: [String] = []
        for item in try node.list() {
            let name = try item.string()
            guard knownStatistics.contains(name) else { throw item.bad("one of \(knownStatistics.joined(separator: ", "))") }
            out.append(name)
        }
        return out
    }
}

extension Configuration.Retention {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["max_age", "tenants", "max_bytes", "interval", "allow_mass_delete", "tiers"]) {
            switch key {
            case "tiers":
                var tiers: [Tier] = []
                for (step, age) in try value.anyMapping() {
                    guard case .success(let d) = WindowDuration.parseUserInput(step, name: "step", minimum: .seconds(1)) else {
                        throw age.bad("a step of at least 1s as the key, such as 1h or 1d (not \"\(step)\")")
                    }
                    guard !tiers.contains(where: { $0.step == d }) else { throw age.bad("one entry per step (\(step) is given twice)") }
                    tiers.append(Tier(step: d, maxAge: try age.duration(atLeast: WindowDuration(microseconds: 1))))
                }
                self.tiers = tiers.sorted { $0.step < $1.step }
            case "max_age":
                for (type, age) in try value.mapping(known: Self.recordTypes) { maxAge[type] = try age.duration(atLeast: WindowDuration(microseconds: 1)) }
            case "tenants":
                for (tenant, policy) in try value.anyMapping() {
                    if let problem = TenantID.problem(tenant) { throw policy.bad("a valid tenant id as the key (\(problem))") }
                    var ages: [String: WindowDuration] = [:]
                    for (k, v) in try policy.mapping(known: ["max_age"]) where k == "max_age" {
                        for (type, age) in try v.mapping(known: Self.recordTypes) { ages[type] = try age.duration(atLeast: WindowDuration(microseconds: 1)) }
                    }
                    tenants[tenant] = ages
                }
            case "max_bytes":
                let n = try value.byteSize()
                guard n >= Self.smallestMaxBytes else { throw value.bad("a size of at least 1MiB") }
                maxBytes = n
            case "allow_mass_delete":
                // A safety switch: only an unmistakable true or false.
                switch try value.string() {
                case "true": allowMassDelete = true
                case "false": allowMassDelete = false
                default: throw value.bad("true or false")
                }
            default: interval = try value.duration(atLeast: Self.shortestInterval)
            }
        }
    }
}

extension Configuration.Store {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["flush_interval", "flush_records", "fsync", "segment_bytes", "segment_age", "compaction_level"]) {
            switch key {
            case "flush_interval": flushInterval = try value.positiveDuration()
            case "flush_records": flushRecords = try value.integer(atLeast: 1)
            case "fsync":
                guard let policy = Configuration.FsyncPolicy(rawValue: try value.string()) else {
                    throw value.bad("always, interval or never")
                }
                fsync = policy
            case "segment_bytes":
                let n = try value.byteSize()
                guard n >= 4096 else { throw value.bad("a size of at least 4KiB") }
                segmentBytes = n
            case "compaction_level":
                let level = try value.integer(atLeast: 1)
                guard level <= 19 else { throw value.bad("a zstd level from 1 to 19") }
                compactionLevel = level
            default: segmentAge = try value.positiveDuration()
            }
        }
    }
}

extension Configuration.Server {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        let known = ["http", "tcp", "udp", "max_body_bytes", "max_connections", "idle_timeout", "enqueue_timeout", "tenant_records_per_second",
                     "idempotency_window", "max_header_bytes", "max_headers", "request_timeout", "min_body_rate"]
        for (key, value) in try node.mapping(known: known) {
            switch key {
            case "http": http = value.isNull ? nil : try Self.address(value)
            case "tcp": tcp = value.isNull ? nil : try Self.address(value)
            case "udp": udp = value.isNull ? nil : try Self.address(value)
            case "max_body_bytes": maxBodyBytes = Int(try value.byteSize())
            case "max_connections": maxConnections = try value.integer(atLeast: 1)
            case "idle_timeout": idleTimeout = try value.positiveDuration()
            case "enqueue_timeout": enqueueTimeout = try value.positiveDuration()
            case "idempotency_window": idempotencyWindow = try value.positiveDuration()
            case "max_header_bytes":
                let n = try value.byteSize()
                guard n >= 1 << 10, n <= 1 << 20 else { throw value.bad("a size from 1KiB to 1MiB") }
                maxHeaderBytes = Int(n)
            case "max_headers": maxHeaders = try value.integer(atLeast: 1)
            case "request_timeout": requestTimeout = try value.positiveDuration()
            case "min_body_rate":
                let n = try value.byteSize()
                guard n >= 1 else { throw value.bad("a size of at least 1B (bytes per second)") }
                minBodyRate = Int(n)
            default: tenantRecordsPerSecond = try value.integer(atLeast: 0)
            }
        }
    }

    static func address(_ node: ConfigNode) throws(ConfigurationError) -> String {
        let text = try node.string()
        guard HostPort(text) != nil else { throw node.bad("HOST:PORT, such as 127.0.0.1:8080") }
        return text
    }
}

extension Configuration.Auth {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["tokens"]) where key == "tokens" {
            for (token, tenant) in try value.anyMapping() {
                let name = try tenant.string()
                guard name == "admin" || TenantID.problem(name) == nil else { throw tenant.bad("a tenant id or admin") }
                guard token.utf8.count >= 8 else {
                    // The token itself is a secret: name only its position.
                    throw .badValue(value.path, "tokens of at least 8 characters", got: "a shorter token", line: tenant.line)
                }
                tokens[token] = name
            }
        }
    }
}

/// `HOST:PORT` as the command line and configuration spell listener addresses.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the address only accepts connections from this machine.
    public var isLoopback: Bool { host == "localhost" || host.hasPrefix("127.") || host == "::1" }
}

extension Configuration.Cluster {
    mutating func apply(_ node: ConfigNode) throws(ConfigurationError) {
        for (key, value) in try node.mapping(known: ["nats", "node_id", "partitions", "stream", "lease_ttl"]) {
            switch key {
            case "nats":
                if value.isNull { nats = nil; continue }
                let text = try value.string()
                guard text.hasPrefix("nats://"), HostPort(String(text.dropFirst("nats://".count))) != nil else {
                    throw value.bad("a NATS server URL, such as nats://127.0.0.1:4222")
                }
                nats = text
            case "node_id":
                let text = try value.string()
                guard Self.isName(text) else { throw value.bad("a node name of 1 to 64 letters, digits, - or _") }
                nodeID = text
            case "partitions":
                let n = try value.integer(atLeast: 1)
                guard n <= 1_024 else { throw value.bad("from 1 to 1024 partitions") }
                partitions = n
            case "stream":
                let text = try value.string()
                guard Self.isName(text) else { throw value.bad("a stream name of 1 to 64 letters, digits, - or _") }
                stream = text
            default:
                let ttl = try value.positiveDuration()
                guard ttl.microseconds >= 1_000_000 else { throw value.bad("a lease TTL of at least 1s") }
                leaseTTL = ttl
            }
        }
        if nats != nil, nodeID == nil {
            throw ConfigurationError.badValue("\(node.path).node_id", "a name for this node, unique in the cluster, since cluster.nats is set", got: "nothing", line: node.line)
        }
    }

    /// Names NATS takes as a consumer or bucket name part.
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) }
    }
}
