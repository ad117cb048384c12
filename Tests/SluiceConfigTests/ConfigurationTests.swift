import Testing
import SluiceModel
import SluiceTesting
@testable import SluiceConfig

@Suite("Configuration")
struct ConfigurationTests {
    @Test("Config/sluice.yml documents exactly the built-in defaults")
    func documentedDefaults() throws {
        let path = FixtureLocator.repositoryRoot() + "/Config/sluice.yml"
        let loaded = try Configuration.load(path: path)
        #expect(loaded == Configuration())
    }

    @Test("an empty file is the default configuration")
    func empty() throws {
        #expect(try Configuration.parse(yaml: "") == Configuration())
        #expect(try Configuration.parse(yaml: "# nothing\n") == Configuration())
    }

    @Test("design §6's example keys load into typed values")
    func designExample() throws {
        let c = try Configuration.parse(yaml: """
            pipeline:
              windows: [10s, 1m]
              lateness: 2s
            tokens:
              pricing:
                gpt-4o: {prompt_per_million_usd: 2.5, completion_per_million_usd: 10, cached_per_million_usd: 1.25}
              budgets:
                site-a: {monthly_tokens: 5000000, monthly_usd: 40, thresholds: [0.5, 0.8, 1.0]}
              dedupe_window: 48h
            retention:
              max_age: {metric: 30d, performance: 30d, cache: 30d, visit: 30d, window: 400d, token_usage: 800d}
              tenants:
                site-b: {max_age: {metric: 7d}}
              max_bytes: 10GiB
              interval: 5m
            store:
              flush_interval: 1s
              fsync: always
            auth:
              tokens:
                "change-me-tenant-a": site-a
                "change-me-admin": admin
            """)
        #expect(c.pipeline.windows == [.seconds(10), .minutes(1)])
        #expect(c.pipeline.lateness == .seconds(2))
        #expect(c.tokens.pricing["gpt-4o"] == .init(promptMicroUSDPerMillion: 2_500_000, completionMicroUSDPerMillion: 10_000_000, cachedMicroUSDPerMillion: 1_250_000))
        #expect(c.tokens.budgets["site-a"] == .init(monthlyTokens: 5_000_000, monthlyMicroUSD: 40_000_000, thresholds: [0.5, 0.8, 1.0]))
        #expect(c.retention.tenants["site-b"] == ["metric": .days(7)])
        #expect(c.retention.maxBytes == 10 << 30)
        #expect(c.store.fsync == .always)
        #expect(c.auth.tokens["change-me-admin"] == "admin")
    }

    @Test("the cluster: section loads; without nats, serve runs as one node")
    func cluster() throws {
        #expect(!Configuration().cluster.isEnabled)
        let c = try Configuration.parse(yaml: """
            cluster:
              nats: nats://10.0.0.5:4222
              node_id: node-2_b
              partitions: 32
              stream: METRICS
              lease_ttl: 10s
            """)
        #expect(c.cluster.isEnabled)
        #expect(c.cluster.nats == "nats://10.0.0.5:4222")
        #expect(c.cluster.nodeID == "node-2_b")
        #expect(c.cluster.partitions == 32)
        #expect(c.cluster.stream == "METRICS")
        #expect(c.cluster.leaseTTL == .seconds(10))
    }

    @Test("an unknown key is an error naming its full path", arguments: [
        ("pipeline:\n  windowz: [1m]\n", "pipeline.windowz"),
        ("nope: 1\n", "nope"),
        ("retention:\n  max_age: {metrics: 1d}\n", "retention.max_age.metrics"),
        ("tokens:\n  pricing:\n    m: {prompt_per_million_usd: 1, completion_per_million_usd: 1, extra: 2}\n", "tokens.pricing.m.extra"),
    ])
    func unknownKey(yaml: String, key: String) {
        #expect {
            try Configuration.parse(yaml: yaml)
        } throws: { error in
            guard let e = error as? ConfigurationError else { return false }
            return e.isUnknownKey && e.key == key && e.description.hasPrefix(key)
        }
    }

    @Test("a bad value is an error naming the key and what was expected", arguments: [
        ("pipeline:\n  lateness: soon\n", "pipeline.lateness"),
        ("pipeline:\n  windows: [0s]\n", "pipeline.windows[0]"),
        ("pipeline:\n  windows: []\n", "pipeline.windows"),
        ("store:\n  fsync: sometimes\n", "store.fsync"),
        ("retention:\n  max_bytes: lots\n", "retention.max_bytes"),
        ("tokens:\n  pricing:\n    m: {prompt_per_million_usd: 1.1234567, completion_per_million_usd: 1}\n", "tokens.pricing.m.prompt_per_million_usd"),
        ("tokens:\n  budgets:\n    site-a: {thresholds: [0.5]}\n", "tokens.budgets.site-a"),
        ("tokens:\n  forecast_window: 30m\n", "tokens.forecast_window"),
        ("tokens:\n  forecast_window: 32d\n", "tokens.forecast_window"),
        ("tokens:\n  forecast_window: 3601s\n", "tokens.forecast_window"),
        ("tokens:\n  forecast_window: daily\n", "tokens.forecast_window"),
        ("server:\n  http: localhost\n", "server.http"),
        ("server:\n  max_header_bytes: 100\n", "server.max_header_bytes"),
        ("server:\n  max_headers: 0\n", "server.max_headers"),
        ("server:\n  request_timeout: 0s\n", "server.request_timeout"),
        ("server:\n  min_body_rate: 0\n", "server.min_body_rate"),
        ("auth:\n  tokens:\n    \"long-enough-token\": \"not a tenant\"\n", "auth.tokens.long-enough-token"),
        ("cluster:\n  nats: 127.0.0.1:4222\n  node_id: n1\n", "cluster.nats"),
        ("cluster:\n  nats: nats://127.0.0.1:4222\n", "cluster.node_id"),
        ("cluster:\n  nats: nats://127.0.0.1:4222\n  node_id: n.1\n", "cluster.node_id"),
        ("cluster:\n  partitions: 0\n", "cluster.partitions"),
        ("cluster:\n  partitions: 1025\n", "cluster.partitions"),
        ("cluster:\n  stream: \"a b\"\n", "cluster.stream"),
        ("cluster:\n  lease_ttl: 500ms\n", "cluster.lease_ttl"),
    ])
    func badValue(yaml: String, key: String) {
        #expect {
            try Configuration.parse(yaml: yaml)
        } throws: { error in
            guard let e = error as? ConfigurationError else { return false }
            return e.isBadValue && e.key == key
        }
    }

    @Test("tokens.forecast_window: 24h by default, any whole minutes from 1h to 31d, 0 turns the forecast off")
    func forecastWindow() throws {
        #expect(Configuration().tokens.forecastWindow == .hours(24))
        #expect(try Configuration.parse(yaml: "tokens:\n  forecast_window: 6h\n").tokens.forecastWindow == .hours(6))
        #expect(try Configuration.parse(yaml: "tokens:\n  forecast_window: 90m\n").tokens.forecastWindow == .minutes(90))
        #expect(try Configuration.parse(yaml: "tokens:\n  forecast_window: 0\n").tokens.forecastWindow == .zero)
        #expect(try Configuration.parse(yaml: "tokens:\n  forecast_window: 0s\n").tokens.forecastWindow == .zero)
        #expect {
            try Configuration.parse(yaml: "tokens:\n  forecast_window: 10m\n")
        } throws: { error in
            "\(error)".contains("tokens.forecast_window") && "\(error)".contains("0 (off), or a duration in whole minutes from 1h to 31d")
        }
    }

    @Test("the HTTP limits load from server:")
    func httpLimits() throws {
        let c = try Configuration.parse(yaml: "server:\n  max_header_bytes: 8KiB\n  max_headers: 50\n  request_timeout: 3s\n  min_body_rate: 10KiB\n")
        #expect(c.server.maxHeaderBytes == 8 << 10)
        #expect(c.server.maxHeaders == 50)
        #expect(c.server.requestTimeout == .seconds(3))
        #expect(c.server.minBodyRate == 10 << 10)
    }

    @Test("retention.tiers: steps in any order come back ascending, {} turns them off, bad steps name the key")
    func tiers() throws {
        let c = try Configuration.parse(yaml: "retention:\n  tiers: {1d: 5y, 6h: 90d}\n".replacingOccurrences(of: "5y", with: "1825d"))
        #expect(c.retention.tiers == [.init(step: .hours(6), maxAge: .days(90)), .init(step: .days(1), maxAge: .days(1825))])
        #expect(try Configuration.parse(yaml: "retention: {tiers: {}}").retention.tiers.isEmpty)
        #expect(Configuration().retention.tiers == [.init(step: .hours(1), maxAge: .days(400)), .init(step: .days(1), maxAge: .days(1825))])
        for (yaml, says) in [("retention: {tiers: {hourly: 30d}}", "hourly"), ("retention: {tiers: {1h: 30d, 60m: 7d}}", "given twice"),
                             ("retention: {tiers: {1h: forever}}", "retention.tiers.1h"), ("retention: {tiers: {0s: 1d}}", "at least 1s")] {
            do {
                _ = try Configuration.parse(yaml: yaml)
                Issue.record("\(yaml) was accepted")
            } catch {
                #expect("\(error)".contains(says), "\(yaml): \(error)")
            }
        }
    }

    @Test("invalid YAML is a syntax error, an unreadable file says why")
    func syntaxAndFiles() {
        #expect(throws: ConfigurationError.self) { try Configuration.parse(yaml: "pipeline: [unclosed\n") }
        #expect {
            try Configuration.load(path: "/nonexistent/sluice.yml")
        } throws: { error in
            "\(error)".contains("/nonexistent/sluice.yml") && "\(error)".contains("No such file")
        }
    }

    @Test("sizes and decimals parse exactly")
    func units() {
        #expect(ByteSize.parse("50MiB") == 50 << 20)
        #expect(ByteSize.parse("1GB") == 1_000_000_000)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("-1KiB") == nil)
        #expect(Decimal6.parse("2.5") == 2_500_000)
        #expect(Decimal6.parse("0.000001") == 1)
        #expect(Decimal6.parse("1.") == nil)
        #expect(Decimal6.parse("-1") == nil)
    }
}
