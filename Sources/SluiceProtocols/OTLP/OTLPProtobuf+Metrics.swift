/// `ExportMetricsServiceRequest` and what it holds (`metrics.proto`).
extension OTLPProtobuf {
    /// `ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }`
    static func metricsRequest(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProtocolError) -> OTLP.MetricsRequest {
        var request = OTLP.MetricsRequest()
        var reader = ProtobufReader(bytes)
        while let f = try reader.next() {
            if f.number == 1 { request.resources.append(try resourceMetrics(f)) }
        }
        return request
    }

    /// `ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }`
    static func resourceMetrics(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.ResourceMetrics {
        var resource = OTLP.ResourceMetrics()
        try fields(field, "resource_metrics") { f throws(ProtocolError) in
            switch f.number {
            case 1: resource.attributes += try self.resource(f)
            case 2: resource.scopes.append(try scopeMetrics(f))
            default: break
            }
        }
        return resource
    }

    /// `ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }`
    static func scopeMetrics(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.ScopeMetrics {
        var scope = OTLP.ScopeMetrics()
        try fields(field, "scope_metrics") { f throws(ProtocolError) in
            switch f.number {
            case 1: scope.scope = try self.scope(f)
            case 2: scope.metrics.append(try metric(f))
            default: break
            }
        }
        return scope
    }

    /// `Metric { string name = 1; oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9;
    /// ExponentialHistogram exponential_histogram = 10; Summary summary = 11; } }`
    static func metric(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.Metric {
        var metric = OTLP.Metric()
        try fields(field, "metrics") { f throws(ProtocolError) in
            switch f.number {
            case 1: try f.expect(.lengthDelimited, "name"); metric.name = f.string
            case 5: metric.data = .gauge(try numberPoints(f, "gauge").points)
            case 7:
                let sum = try numberPoints(f, "sum")
                metric.data = .sum(sum.points, sum.temporality, monotonic: sum.monotonic)
            case 9:
                // Histogram { repeated HistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; }
                var points: [OTLP.HistogramPoint] = []
                var temporality = OTLP.Temporality.unspecified
                try fields(f, "histogram") { g throws(ProtocolError) in
                    switch g.number {
                    case 1: points.append(try histogramPoint(g))
                    case 2: temporality = OTLP.Temporality(rawValue: Int64(bitPattern: try varint(g, "aggregation_temporality")))
                    default: break
                    }
                }
                metric.data = .histogram(points, temporality)
            case 10:
                var points: [OTLP.ExponentialHistogramPoint] = []
                var temporality = OTLP.Temporality.unspecified
                try fields(f, "exponential_histogram") { g throws(ProtocolError) in
                    switch g.number {
                    case 1: points.append(try exponentialPoint(g))
                    case 2: temporality = OTLP.Temporality(rawValue: Int64(bitPattern: try varint(g, "aggregation_temporality")))
                    default: break
                    }
                }
                metric.data = .exponentialHistogram(points, temporality)
            case 11:
                // Summary { repeated SummaryDataPoint data_points = 1; }: counted, then refused.
                var count = 0
                try fields(f, "summary") { g throws(ProtocolError) in
                    if g.number == 1 { try g.expect(.lengthDelimited, "data_points"); count += 1 }
                }
                metric.data = .summary(points: count)
            default: break
            }
        }
        return metric
    }

    /// `Gauge { repeated NumberDataPoint data_points = 1; }` and
    /// `Sum { repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }`
    static func numberPoints(_ field: ProtobufReader.Field, _ name: String) throws(ProtocolError)
        -> (points: [OTLP.NumberPoint], temporality: OTLP.Temporality, monotonic: Bool) {
        var points: [OTLP.NumberPoint] = []
        var temporality = OTLP.Temporality.unspecified
        var monotonic = false
        try fields(field, name) { f throws(ProtocolError) in
            switch f.number {
            case 1: points.append(try numberPoint(f))
            case 2: temporality = OTLP.Temporality(rawValue: Int64(bitPattern: try varint(f, "aggregation_temporality")))
            case 3: monotonic = try varint(f, "is_monotonic") != 0
            default: break
            }
        }
        return (points, temporality, monotonic)
    }

    /// `NumberDataPoint { fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
    /// oneof value { double as_double = 4; sfixed64 as_int = 6; } repeated KeyValue attributes = 7; uint32 flags = 8; }`
    static func numberPoint(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.NumberPoint {
        var point = OTLP.NumberPoint()
        try fields(field, "data_points") { f throws(ProtocolError) in
            switch f.number {
            case 2: point.startTime = try fixed64(f, "start_time_unix_nano")
            case 3: point.time = try fixed64(f, "time_unix_nano")
            case 4: point.value = .double(try double(f, "as_double"))
            case 6: point.value = .int(Int64(bitPattern: try fixed64(f, "as_int")))
            case 7: point.attributes.append(try keyValue(f))
            case 8: point.flags = UInt32(truncatingIfNeeded: try varint(f, "flags"))
            default: break
            }
        }
        return point
    }

    /// `HistogramDataPoint { fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3; fixed64 count = 4;
    /// optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7;
    /// repeated KeyValue attributes = 9; uint32 flags = 10; optional double min = 11; optional double max = 12; }`
    static func histogramPoint(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.HistogramPoint {
        var point = OTLP.HistogramPoint()
        try fields(field, "data_points") { f throws(ProtocolError) in
            switch f.number {
            case 2: point.startTime = try fixed64(f, "start_time_unix_nano")
            case 3: point.time = try fixed64(f, "time_unix_nano")
            case 4: point.count = try fixed64(f, "count")
            case 5: point.sum = try double(f, "sum")
            case 6: point.bucketCounts += try f.packedFixed64()
            case 7: point.explicitBounds += try f.packedFixed64().map(Double.init(bitPattern:))
            case 9: point.attributes.append(try keyValue(f))
            case 10: point.flags = UInt32(truncatingIfNeeded: try varint(f, "flags"))
            case 11: point.min = try double(f, "min")
            case 12: point.max = try double(f, "max")
            default: break
            }
        }
        return point
    }

    /// `ExponentialHistogramDataPoint { repeated KeyValue attributes = 1; fixed64 start_time_unix_nano = 2;
    /// fixed64 time_unix_nano = 3; fixed64 count = 4; optional double sum = 5; sint32 scale = 6;
    /// fixed64 zero_count = 7; Buckets positive = 8; Buckets negative = 9; uint32 flags = 10;
    /// optional double min = 12; optional double max = 13; double zero_threshold = 14; }`
    static func exponentialPoint(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.ExponentialHistogramPoint {
        var point = OTLP.ExponentialHistogramPoint()
        try fields(field, "data_points") { f throws(ProtocolError) in
            switch f.number {
            case 1: point.attributes.append(try keyValue(f))
            case 2: point.startTime = try fixed64(f, "start_time_unix_nano")
            case 3: point.time = try fixed64(f, "time_unix_nano")
            case 4: point.count = try fixed64(f, "count")
            case 5: point.sum = try double(f, "sum")
            case 6:
                try f.expect(.varint, "scale")
                point.scale = Int32(truncatingIfNeeded: f.sint64)
            case 7: point.zeroCount = try fixed64(f, "zero_count")
            case 8: point.positive = try buckets(f, "positive")
            case 9: point.negative = try buckets(f, "negative")
            case 10: point.flags = UInt32(truncatingIfNeeded: try varint(f, "flags"))
            case 12: point.min = try double(f, "min")
            case 13: point.max = try double(f, "max")
            case 14: point.zeroThreshold = try double(f, "zero_threshold")
            default: break
            }
        }
        return point
    }

    /// `Buckets { sint32 offset = 1; repeated uint64 bucket_counts = 2; }`
    static func buckets(_ field: ProtobufReader.Field, _ name: String) throws(ProtocolError) -> OTLP.Buckets {
        var buckets = OTLP.Buckets()
        try fields(field, name) { f throws(ProtocolError) in
            switch f.number {
            case 1:
                try f.expect(.varint, "offset")
                buckets.offset = Int32(truncatingIfNeeded: f.sint64)
            case 2: buckets.counts += try f.packedVarints()
            default: break
            }
        }
        return buckets
    }
}
