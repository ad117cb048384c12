/// OTLP/JSON's messages, member by member, into the same values the protobuf reader makes.
extension OTLPJSON {
    static let temporalityNames: [String: Int64] = [
        "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
    ]
    static let spanKindNames: [String: Int64] = [
        "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
        "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
    ]

    // MARK: Common

    static func keyValues(_ object: Object, _ key: String, depth: Int = 0) throws(ProtocolError) -> [OTLP.KeyValue] {
        var pairs: [OTLP.KeyValue] = []
        for (element, path) in try array(object, key) {
            let pair = try self.object(element, path)
            let value = try self.object(pair, "value").map { v throws(ProtocolError) in try anyValue(v, depth: depth) } ?? .empty
            pairs.append(OTLP.KeyValue(key: try string(pair, "key") ?? "", value: value))
        }
        return pairs
    }

    static func anyValue(_ object: Object, depth: Int) throws(ProtocolError) -> OTLP.AnyValue {
        guard depth < OTLPProtobuf.maximumValueDepth else {
            throw ProtocolError("invalid OTLP/JSON: \(object.path) nests attribute values deeper than \(OTLPProtobuf.maximumValueDepth) levels")
        }
        if let text = try string(object, "stringValue") { return .string(text) }
        if let flag = try bool(object, "boolValue") { return .bool(flag) }
        if let n = try signed(object, "intValue") { return .int(n) }
        if let x = try double(object, "doubleValue") { return .double(x) }
        if let list = try self.object(object, "arrayValue") {
            var elements: [OTLP.AnyValue] = []
            for (element, path) in try array(list, "values") {
                elements.append(try anyValue(try self.object(element, path), depth: depth + 1))
            }
            return .array(elements)
        }
        if let list = try self.object(object, "kvlistValue") {
            return .keyValues(try keyValues(list, "values", depth: depth + 1))
        }
        if let bytes = try base64(object, "bytesValue") { return .bytes(bytes) }
        return .empty
    }

    static func resource(_ object: Object) throws(ProtocolError) -> [OTLP.KeyValue] {
        guard let resource = try self.object(object, "resource") else { return [] }
        return try keyValues(resource, "attributes")
    }

    static func scope(_ object: Object) throws(ProtocolError) -> OTLP.Scope {
        guard let scope = try self.object(object, "scope") else { return OTLP.Scope() }
        return OTLP.Scope(name: try string(scope, "name") ?? "", version: try string(scope, "version") ?? "",
                          attributes: try keyValues(scope, "attributes"))
    }

    // MARK: Metrics

    static func metricsRequest(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProtocolError) -> OTLP.MetricsRequest {
        let root = try object(try JSONParser.parse(bytes), "")
        var request = OTLP.MetricsRequest()
        for (element, path) in try array(root, "resourceMetrics") {
            let resourceObject = try object(element, path)
            var resource = OTLP.ResourceMetrics(attributes: try self.resource(resourceObject))
            for (element, path) in try array(resourceObject, "scopeMetrics") {
                let scopeObject = try object(element, path)
                var scope = OTLP.ScopeMetrics(scope: try self.scope(scopeObject))
                for (element, path) in try array(scopeObject, "metrics") {
                    scope.metrics.append(try metric(try object(element, path)))
                }
                resource.scopes.append(scope)
            }
            request.resources.append(resource)
        }
        return request
    }

    static func metric(_ object: Object) throws(ProtocolError) -> OTLP.Metric {
        var metric = OTLP.Metric(name: try string(object, "name") ?? "")
        if let gauge = try self.object(object, "gauge") {
            metric.data = .gauge(try array(gauge, "dataPoints").map { p throws(ProtocolError) in try numberPoint(try self.object(p.value, p.path)) })
        }
        if let sum = try self.object(object, "sum") {
            let points = try array(sum, "dataPoints").map { p throws(ProtocolError) in try numberPoint(try self.object(p.value, p.path)) }
            metric.data = .sum(points, try temporality(sum), monotonic: try bool(sum, "isMonotonic") ?? false)
        }
        if let histogram = try self.object(object, "histogram") {
            let points = try array(histogram, "dataPoints").map { p throws(ProtocolError) in try histogramPoint(try self.object(p.value, p.path)) }
            metric.data = .histogram(points, try temporality(histogram))
        }
        if let histogram = try self.object(object, "exponentialHistogram") {
            let points = try array(histogram, "dataPoints").map { p throws(ProtocolError) in try exponentialPoint(try self.object(p.value, p.path)) }
            metric.data = .exponentialHistogram(points, try temporality(histogram))
        }
        if let summary = try self.object(object, "summary") {
            metric.data = .summary(points: try array(summary, "dataPoints").count)
        }
        return metric
    }

    static func temporality(_ object: Object) throws(ProtocolError) -> OTLP.Temporality {
        OTLP.Temporality(rawValue: try enumeration(object, "aggregationTemporality", names: temporalityNames) ?? 0)
    }

    static func numberPoint(_ object: Object) throws(ProtocolError) -> OTLP.NumberPoint {
        var point = OTLP.NumberPoint()
        point.attributes = try keyValues(object, "attributes")
        point.startTime = try unsigned(object, "startTimeUnixNano") ?? 0
        point.time = try unsigned(object, "timeUnixNano") ?? 0
        if let x = try double(object, "asDouble") { point.value = .double(x) }
        if let n = try signed(object, "asInt") { point.value = .int(n) }
        point.flags = UInt32(truncatingIfNeeded: try unsigned(object, "flags") ?? 0)
        return point
    }

    static func histogramPoint(_ object: Object) throws(ProtocolError) -> OTLP.HistogramPoint {
        var point = OTLP.HistogramPoint()
        point.attributes = try keyValues(object, "attributes")
        point.startTime = try unsigned(object, "startTimeUnixNano") ?? 0
        point.time = try unsigned(object, "timeUnixNano") ?? 0
        point.count = try unsigned(object, "count") ?? 0
        point.sum = try double(object, "sum")
        point.bucketCounts = try array(object, "bucketCounts").map { e throws(ProtocolError) in try unsigned(e.value, e.path) }
        point.explicitBounds = try array(object, "explicitBounds").map { e throws(ProtocolError) in try double(e.value, e.path) }
        point.min = try double(object, "min")
        point.max = try double(object, "max")
        point.flags = UInt32(truncatingIfNeeded: try unsigned(object, "flags") ?? 0)
        return point
    }

    static func exponentialPoint(_ object: Object) throws(ProtocolError) -> OTLP.ExponentialHistogramPoint {
        var point = OTLP.ExponentialHistogramPoint()
        point.attributes = try keyValues(object, "attributes")
        point.startTime = try unsigned(object, "startTimeUnixNano") ?? 0
        point.time = try unsigned(object, "timeUnixNano") ?? 0
        point.count = try unsigned(object, "count") ?? 0
        point.sum = try double(object, "sum")
        point.scale = Int32(truncatingIfNeeded: try signed(object, "scale") ?? 0)
        point.zeroCount = try unsigned(object, "zeroCount") ?? 0
        point.positive = try buckets(object, "positive")
        point.negative = try buckets(object, "negative")
        point.min = try double(object, "min")
        point.max = try double(object, "max")
        point.zeroThreshold = try double(object, "zeroThreshold") ?? 0
        point.flags = UInt32(truncatingIfNeeded: try unsigned(object, "flags") ?? 0)
        return point
    }

    static func buckets(_ object: Object, _ key: String) throws(ProtocolError) -> OTLP.Buckets {
        guard let buckets = try self.object(object, key) else { return OTLP.Buckets() }
        return OTLP.Buckets(offset: Int32(truncatingIfNeeded: try signed(buckets, "offset") ?? 0),
                            counts: try array(buckets, "bucketCounts").map { e throws(ProtocolError) in try unsigned(e.value, e.path) })
    }

    // MARK: Traces

    static func tracesRequest(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProtocolError) -> OTLP.TracesRequest {
        let root = try object(try JSONParser.parse(bytes), "")
        var request = OTLP.TracesRequest()
        for (element, path) in try array(root, "resourceSpans") {
            let resourceObject = try object(element, path)
            var resource = OTLP.ResourceSpans(attributes: try self.resource(resourceObject))
            for (element, path) in try array(resourceObject, "scopeSpans") {
                let scopeObject = try object(element, path)
                var scope = OTLP.ScopeSpans(scope: try self.scope(scopeObject))
                for (element, path) in try array(scopeObject, "spans") {
                    scope.spans.append(try span(try object(element, path)))
                }
                resource.scopes.append(scope)
            }
            request.resources.append(resource)
        }
        return request
    }

    static func span(_ object: Object) throws(ProtocolError) -> OTLP.Span {
        OTLP.Span(
            traceID: try hex(object, "traceId"), spanID: try hex(object, "spanId"), name: try string(object, "name") ?? "",
            kind: try enumeration(object, "kind", names: spanKindNames) ?? 0,
            startTime: try unsigned(object, "startTimeUnixNano") ?? 0, endTime: try unsigned(object, "endTimeUnixNano") ?? 0,
            attributes: try keyValues(object, "attributes"))
    }
}
