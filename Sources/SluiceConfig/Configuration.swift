import SluiceModel

/// Sluice's whole configuration (design §6): every key optional, every default here and in
/// `Config/sluice.yml`, which a test keeps in step with this file.
public struct Configuration: Sendable, Hashable {
    public var pipeline = Pipeline()
    public var ingest = Ingest()
    public var tokens = Tokens()
    public var anomaly = AnomalyDetection()
    public var retention = Retention()
    public var store = Store()
    public var server = Server()
    public var auth = Auth()
    public var cluster = Cluster()

    public init() {}

    /// `pipeline:` — windows and the channels between stages.
    public struct Pipeline: Sendable, Hashable {
        /// Tumbling window lengths.
        public var windows: [WindowDuration] = [.minutes(1)]
        /// How far behind the newest event time a record may be and still count.
        public var lateness: WindowDuration = .seconds(5)
        /// Batches each channel between stages holds before its producer waits.
        public var channelCapacity = 4
        /// Most records in one batch.
        public var batchRecords = 4_096
        /// With a store, how often open windows are checkpointed: after `kill -9`, a restart
        /// resumes them from the last checkpoint, so at most this much of them is lost.
        public var checkpointInterval: WindowDuration = .seconds(10)
        public init() {}
    }

    /// `ingest:` — limits on input lines.
    public struct Ingest: Sendable, Hashable {
        public var maxLineBytes = 1 << 20
        public var maxLabels = 30
        public var statsd = StatsD()
        public init() {}

        /// `ingest.statsd:` — StatsD and DogStatsD listeners (design §10).
        public struct StatsD: Sendable, Hashable {
            /// UDP listener, `HOST:PORT`; `nil` is off.
            public var udp: String?
            /// TCP listener (newline-separated lines), `HOST:PORT`; `nil` is off.
            public var tcp: String?
            /// Tenant of lines without a `tenant_id` tag; `nil` is platform-wide.
            public var tenant: String?
            public init() {}
        }
    }

    /// `tokens:` — pricing, budgets, deduplication and forecasts for the token meter.
    public struct Tokens: Sendable, Hashable {
        public var pricing: [String: ModelPrice] = [:]
        public var budgets: [String: Budget] = [:]
        public var dedupeWindow: WindowDuration = .hours(48)
        /// Most request ids remembered at once; the oldest are forgotten first beyond it.
        public var dedupeCapacity = 1_000_000
        /// The burn rate behind `budget_forecast` is measured over this much of a tenant's
        /// newest event time; zero turns the forecast off.
        public var forecastWindow: WindowDuration = .hours(24)
        public init() {}
    }

    /// USD per million tokens, kept as micro-dollars per million tokens so costs stay integers.
    public struct ModelPrice: Sendable, Hashable {
        public var promptMicroUSDPerMillion: Int64
        public var completionMicroUSDPerMillion: Int64
        /// Defaults to the prompt price.
        public var cachedMicroUSDPerMillion: Int64?
        public init(promptMicroUSDPerMillion: Int64, completionMicroUSDPerMillion: Int64, cachedMicroUSDPerMillion: Int64? = nil) {
            self.promptMicroUSDPerMillion = promptMicroUSDPerMillion
            self.completionMicroUSDPerMillion = completionMicroUSDPerMillion
            self.cachedMicroUSDPerMillion = cachedMicroUSDPerMillion
        }
    }

    /// A tenant's monthly budget.
    public struct Budget: Sendable, Hashable {
        public var monthlyTokens: UInt64?
        public var monthlyMicroUSD: Int64?
        public var thresholds: [Double] = [0.5, 0.8, 1.0]
        public init(monthlyTokens: UInt64? = nil, monthlyMicroUSD: Int64? = nil, thresholds: [Double] = [0.5, 0.8, 1.0]) {
            self.monthlyTokens = monthlyTokens
            self.monthlyMicroUSD = monthlyMicroUSD
            self.thresholds = thresholds
        }
    }

    /// `anomaly:` — which window statistics the detector watches.
    public struct AnomalyDetection: Sendable, Hashable {
        public var enabled = true
        /// Statistics scored for every series.
        public var statistics: [String] = ["mean", "p99"]
        /// Per metric name: the statistics to score instead.
        public var metrics: [String: [String]] = [:]
        /// Windows a new series must see before it may alert.
        public var warmup = 30
        /// The lowest score reported as an anomaly (chosen on the Numenta Anomaly Benchmark:
        /// `AnomalyDetector.Configuration.threshold`).
        public var threshold = 0.643
        public init() {}
    }

    /// `retention:` — how long stored data is kept.
    public struct Retention: Sendable, Hashable {
        public var maxAge: [String: WindowDuration] = Retention.defaultMaxAge
        public var tenants: [String: [String: WindowDuration]] = [:]
        public var maxBytes: Int64 = 10 << 30
        public var interval: WindowDuration = .minutes(5)
        /// Whether a prune may remove more than half the stored bytes at once without being
        /// confirmed (`sluice prune --confirm`, `…/retention/apply?confirm=true`).
        public var allowMassDelete = false
        /// Downsampling tiers (design §9): closed windows roll up into windows of each step,
        /// kept for its max age. Ascending by step; empty turns them off.
        public var tiers: [Tier] = Retention.defaultTiers
        /// The shortest `interval`: pruning more often only burns CPU.
        public static let shortestInterval = WindowDuration.seconds(1)
        /// The smallest `max_bytes`: below it the cap deletes nearly everything it is given.
        public static let smallestMaxBytes: Int64 = 1 << 20
        public static let defaultMaxAge: [String: WindowDuration] = [
            "metric": .days(30), "performance": .days(30), "cache": .days(30), "visit": .days(30),
            "window": .days(400), "token_usage": .days(800),
        ]
        public static let recordTypes = ["cache", "metric", "performance", "token_usage", "visit", "window"]
        public static let defaultTiers = [Tier(step: .hours(1), maxAge: .days(400)), Tier(step: .days(1), maxAge: .days(1825))]
        public init() {}

        /// One downsampling tier: windows of `step`, kept for `maxAge`.
        public struct Tier: Sendable, Hashable {
            public var step: WindowDuration
            public var maxAge: WindowDuration
            public init(step: WindowDuration, maxAge: WindowDuration) {
                self.step = step
                self.maxAge = maxAge
            }
        }
    }

    /// `store:` — the segment store.
    public struct Store: Sendable, Hashable {
        public var flushInterval: WindowDuration = .seconds(1)
        public var flushRecords = 65_536
        public var fsync: FsyncPolicy = .interval
        public var segmentBytes: Int64 = 64 << 20
        public var segmentAge: WindowDuration = .hours(1)
        /// zstd level of the compaction that rewrites each sealed segment behind ingest (1–19).
        public var compactionLevel = 3
        public init() {}
    }

    public enum FsyncPolicy: String, Sendable, Hashable, CaseIterable {
        case always, interval, never
    }

    /// `server:` — listeners and request limits for `sluice serve`.
    public struct Server: Sendable, Hashable {
        public var http: String? = "127.0.0.1:8080"
        public var tcp: String?
        public var udp: String?
        public var maxBodyBytes = 8 << 20
        public var maxConnections = 1_024
        public var idleTimeout: WindowDuration = .minutes(5)
        /// How long an ingest request waits for room in the pipeline before `503`.
        public var enqueueTimeout: WindowDuration = .seconds(2)
        /// Records per second each tenant may send (0: unlimited), with a burst of one second.
        public var tenantRecordsPerSecond = 0
        /// How long an `Idempotency-Key` is remembered: a retry within it is answered, not ingested.
        public var idempotencyWindow: WindowDuration = .hours(24)
        /// Most bytes of a request head (request line and header fields) before `431`.
        public var maxHeaderBytes = 32 << 10
        /// Most header fields in a request before `431`.
        public var maxHeaders = 100
        /// How long a request head may take to arrive, from its first byte; the body gets as
        /// long again, plus a second for every `minBodyRate` bytes it brings. Past it: `408`.
        public var requestTimeout: WindowDuration = .seconds(10)
        /// Bytes per second a slow body must keep up (see `requestTimeout`).
        public var minBodyRate = 1 << 10
        public init() {}
    }

    /// `auth:` — bearer tokens.
    public struct Auth: Sendable, Hashable {
        /// Token → tenant id, or `admin`.
        public var tokens: [String: String] = [:]
        public init() {}
    }

    /// `cluster:` — nodes that share partitions through NATS JetStream (design §12). Without
    /// `nats`, `serve` runs as one node.
    public struct Cluster: Sendable, Hashable {
        /// The NATS server, `nats://HOST:PORT`; `nil` runs one node.
        public var nats: String?
        /// This node's name, unique in the cluster: letters, digits, `-` and `_`.
        public var nodeID: String?
        /// Partition = stable hash(tenant) mod partitions. Fixed for the stream's life.
        public var partitions = 16
        /// The JetStream stream (and the prefix of the lease buckets).
        public var stream = "SLUICE"
        /// How long a dead node's partitions stay with it.
        public var leaseTTL: WindowDuration = .seconds(5)
        public init() {}

        /// Whether `serve` runs as a cluster node.
        public var isEnabled: Bool { nats != nil }
    }
}
