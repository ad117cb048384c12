/// The parts of OTLP's messages (opentelemetry-proto v1: `common.proto`, `resource.proto`,
/// `metrics.proto`, `trace.proto`) that Sluice reads, as plain values. The protobuf and the
/// JSON readers both produce these, and one mapping turns them into records, so that the two
/// encodings cannot drift apart.
enum OTLP {
    /// `common.v1.KeyValue`.
    struct KeyValue: Sendable, Equatable {
        var key: String
        var value: AnyValue
    }

    /// `common.v1.AnyValue`: one of its cases, `.empty` when none is set.
    indirect enum AnyValue: Sendable, Equatable {
        case empty
        case string(String)
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case bytes([UInt8])
        case array([AnyValue])
        case keyValues([KeyValue])
    }

    /// `common.v1.InstrumentationScope`: part of a stream's identity.
    struct Scope: Sendable, Equatable {
        var name = ""
        var version = ""
        var attributes: [KeyValue] = []
    }

    /// `metrics.v1.AggregationTemporality`, kept as sent so that an unknown value can be named.
    struct Temporality: Sendable, Equatable {
        var rawValue: Int64
        static let unspecified = Temporality(rawValue: 0)
        static let delta = Temporality(rawValue: 1)
        static let cumulative = Temporality(rawValue: 2)
    }

    /// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point stands for a gap and has no value.
    static let noRecordedValue: UInt32 = 1

    // MARK: Metrics

    struct MetricsRequest: Sendable, Equatable {
        var resources: [ResourceMetrics] = []
    }

    struct ResourceMetrics: Sendable, Equatable {
        var attributes: [KeyValue] = []
        var scopes: [ScopeMetrics] = []
    }

    struct ScopeMetrics: Sendable, Equatable {
        var scope = Scope()
        var metrics: [Metric] = []
    }

    struct Metric: Sendable, Equatable {
        var name = ""
        var data: MetricData = .none
    }

    /// `Metric.data`; the last one set wins, as protobuf's `oneof` does.
    enum MetricData: Sendable, Equatable {
        case none
        case gauge([NumberPoint])
        case sum([NumberPoint], Temporality, monotonic: Bool)
        case histogram([HistogramPoint], Temporality)
        case exponentialHistogram([ExponentialHistogramPoint], Temporality)
        /// Summaries are refused point by point; only their number matters.
        case summary(points: Int)
    }

    /// `NumberDataPoint.value`.
    enum Number: Sendable, Equatable {
        case none
        case double(Double)
        case int(Int64)
    }

    struct NumberPoint: Sendable, Equatable {
        var attributes: [KeyValue] = []
        var startTime: UInt64 = 0
        var time: UInt64 = 0
        var value: Number = .none
        var flags: UInt32 = 0
    }

    struct HistogramPoint: Sendable, Equatable {
        var attributes: [KeyValue] = []
        var startTime: UInt64 = 0
        var time: UInt64 = 0
        var count: UInt64 = 0
        var sum: Double?
        var bucketCounts: [UInt64] = []
        var explicitBounds: [Double] = []
        var min: Double?
        var max: Double?
        var flags: UInt32 = 0
    }

    /// `ExponentialHistogramDataPoint.Buckets`: `counts[k]` is bucket `offset + k`.
    struct Buckets: Sendable, Equatable {
        var offset: Int32 = 0
        var counts: [UInt64] = []
    }

    struct ExponentialHistogramPoint: Sendable, Equatable {
        var attributes: [KeyValue] = []
        var startTime: UInt64 = 0
        var time: UInt64 = 0
        var count: UInt64 = 0
        var sum: Double?
        var scale: Int32 = 0
        var zeroCount: UInt64 = 0
        var positive = Buckets()
        var negative = Buckets()
        var min: Double?
        var max: Double?
        var zeroThreshold: Double = 0
        var flags: UInt32 = 0
    }

    // MARK: Traces

    struct TracesRequest: Sendable, Equatable {
        var resources: [ResourceSpans] = []
    }

    struct ResourceSpans: Sendable, Equatable {
        var attributes: [KeyValue] = []
        var scopes: [ScopeSpans] = []
    }

    struct ScopeSpans: Sendable, Equatable {
        var scope = Scope()
        var spans: [Span] = []
    }

    struct Span: Sendable, Equatable {
        var traceID: [UInt8] = []
        var spanID: [UInt8] = []
        var name = ""
        var kind: Int64 = 0
        var startTime: UInt64 = 0
        var endTime: UInt64 = 0
        var attributes: [KeyValue] = []
    }

    /// `Span.SpanKind.SPAN_KIND_SERVER`.
    static let serverKind: Int64 = 2
}
