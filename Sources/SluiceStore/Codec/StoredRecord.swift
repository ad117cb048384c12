import SluiceModel

/// What the store keeps: raw input records and the aggregates and anomalies derived from them.
public enum StoredRecord: Sendable, Hashable {
    case record(Record)
    case output(OutputRecord)

    /// The kinds of record a block can hold, with their codes in the format (see FORMAT.md).
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable, Comparable {
        case metric = 1, cache = 2, performance = 3, tokenUsage = 4, visit = 5
        case window = 16, cacheWindow = 17, visitsWindow = 18, anomaly = 19

        public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }

        /// The `type` name a person queries by.
        public var typeName: String {
            switch self {
            case .metric: "metric"
            case .cache: "cache"
            case .performance: "performance"
            case .tokenUsage: "token_usage"
            case .visit: "visit"
            case .window: "window"
            case .cacheWindow: "cache_window"
            case .visitsWindow: "visits_window"
            case .anomaly: "anomaly"
            }
        }

        /// The retention policy key it falls under (design §6: derived data is `window`).
        public var retentionType: String {
            switch self {
            case .window, .cacheWindow, .visitsWindow, .anomaly: "window"
            default: typeName
            }
        }

        public init?(typeName: String) {
            guard let kind = Self.allCases.first(where: { $0.typeName == typeName }) else { return nil }
            self = kind
        }
    }

    /// A record worth storing: raw records, closed windows and anomalies (not run summaries).
    public init?(_ output: OutputRecord) {
        switch output {
        case .window, .cacheWindow, .visitsWindow, .anomaly: self = .output(output)
        default: return nil
        }
    }

    public var kind: Kind {
        switch self {
        case .record(.metric): .metric
        case .record(.cache): .cache
        case .record(.performance): .performance
        case .record(.tokenUsage): .tokenUsage
        case .record(.visit): .visit
        case .output(.window): .window
        case .output(.cacheWindow): .cacheWindow
        case .output(.visitsWindow): .visitsWindow
        default: .anomaly
        }
    }

    /// The time retention and queries go by: event time, a window's start, an anomaly's time.
    public var timestamp: Timestamp {
        switch self {
        case .record(let r): r.timestamp
        case .output(.window(let w)): w.span.start
        case .output(.cacheWindow(let w)): w.span.start
        case .output(.visitsWindow(let w)): w.span.start
        case .output(.anomaly(let a)): a.timestamp
        case .output: Timestamp(microseconds: 0)
        }
    }

    public var tenantID: String? {
        switch self {
        case .record(let r): r.tenantID
        case .output(let o): o.tenantID
        }
    }

    /// The metric (or cache, or model) name a query's `--metric` matches.
    public var name: String? {
        switch self {
        case .record(.metric(let m)): m.name
        case .record(.cache(let c)): c.cache
        case .record(.tokenUsage(let t)): t.model
        case .output(.window(let w)): w.series.name
        case .output(.cacheWindow(let w)): w.cache
        case .output(.anomaly(let a)): a.series.name
        default: nil
        }
    }

    /// Whether a query for `metric` wants this record (performance records hold three series).
    public func matches(metric: String) -> Bool {
        if case .record(.performance(let p)) = self {
            switch metric {
            case "response_time": return p.responseTime != nil
            case "db_query_time": return p.dbQueryTime != nil
            case "memory_usage": return p.memoryUsage != nil
            default: return false
            }
        }
        return name == metric
    }
}

extension StoredRecord {
    /// Records in the store's block payload encoding (FORMAT.md, "Payload"), uncompressed and
    /// lossless, sketches included: how a cluster node sends another the windows it holds.
    public static func encodeBlock(_ records: [StoredRecord]) -> [UInt8] { BlockCodec.encode(records) }

    /// Reads what `encodeBlock` wrote; throws on bytes that are not such a payload.
    public static func decodeBlock(_ bytes: [UInt8]) throws(StoreError) -> [StoredRecord] { try BlockCodec.decode(bytes) }
}
