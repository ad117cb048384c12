import SluiceModel
import SluicePipeline

/// `ExportMetricsServiceRequest` (protobuf or OTLP/JSON) to `metric` records (design §10).
///
/// - Gauge points, delta sums and non-monotonic cumulative sums (up-down counters, which are
///   levels) become samples of their value.
/// - Monotonic cumulative sums (counters, the SDKs' default) become samples of their increase
///   since the stream's previous point, so that a window's sum is what was counted in it
///   whichever temporality the sender uses.
/// - Histogram and exponential-histogram points become one record carrying a `Distribution`:
///   count, sum and (when sent) min and max exact; cumulative ones first become deltas.
/// - Summary points are refused: their quantiles cannot be merged into a window.
///
/// Labels are the resource's attributes and then the point's (the point's win on a clash);
/// scope attributes are not labels (they describe the instrumentation library, not the data).
/// A `tenant_id` attribute names the tenant. Each refused point is numbered in request order
/// (all metrics' points counted together) and its message names the metric and its point.
public struct OTLPMetricsDecoder: Sendable {
    public let state: OTLPCumulativeState

    public init(state: OTLPCumulativeState) {
        self.state = state
    }

    /// Decodes one request body. Throws when the body is not an OTLP message at all; points
    /// that cannot be taken are refused one by one in the batch.
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>, encoding: OTLPEncoding, context: ProtocolContext) throws(ProtocolError) -> OTLPDecoded {
        let request = switch encoding {
        case .protobuf: try OTLPProtobuf.metricsRequest(bytes)
        case .json: try OTLPJSON.metricsRequest(bytes)
        }
        var mapping = Mapping(context: context, state: state)
        mapping.map(request)
        return mapping.out
    }

    /// The walk over one request, numbering its points.
    struct Mapping {
        let context: ProtocolContext
        let state: OTLPCumulativeState
        var out = OTLPDecoded()

        /// Where a point sits, for its records and refusals.
        struct Place {
            var resource: [Labels.Label]
            var resourceLabels: Labels
            var scope: String
            var metric: String
            /// 1-based within the metric.
            var point = 0
        }

        mutating func map(_ request: OTLP.MetricsRequest) {
            for resource in request.resources {
                let pairs = OTLP.resourceLabels(resource.attributes)
                // The stream's identity keeps every resource attribute (one process is one stream).
                let resourceLabels = Labels(OTLP.labels(resource.attributes))
                for scope in resource.scopes {
                    let scopeID = Self.identity(scope.scope)
                    for metric in scope.metrics {
                        map(metric, Place(resource: pairs, resourceLabels: resourceLabels, scope: scopeID, metric: metric.name))
                    }
                }
            }
        }

        private mutating func map(_ metric: OTLP.Metric, _ place: Place) {
            var place = place
            switch metric.data {
            case .none:
                return
            case .gauge(let points):
                for point in points {
                    place.point += 1
                    number(point, place, cumulative: false)
                }
            case .sum(let points, let temporality, let monotonic):
                for point in points {
                    place.point += 1
                    guard let cumulative = accepted(temporality, place) else { continue }
                    number(point, place, cumulative: cumulative && monotonic)
                }
            case .histogram(let points, let temporality):
                for point in points {
                    place.point += 1
                    histogram(point.attributes, point.startTime, point.time, point.flags, temporality, place) { () throws(DecodeError) in
                        .explicit(try OTLP.ExplicitHistogram(point))
                    }
                }
            case .exponentialHistogram(let points, let temporality):
                for point in points {
                    place.point += 1
                    histogram(point.attributes, point.startTime, point.time, point.flags, temporality, place) { () throws(DecodeError) in
                        .exponential(try OTLP.ExponentialHistogram(point))
                    }
                }
            case .summary(let count):
                for _ in 0..<count {
                    place.point += 1
                    out.items += 1
                    reject(DecodeError(.unsupported, "summary points are not supported (their quantiles cannot be merged into a window); export a histogram instead"), place)
                }
            }
        }

        /// Whether points of this temporality are cumulative; `nil` (and the point refused)
        /// for one OTLP does not define.
        private mutating func accepted(_ temporality: OTLP.Temporality, _ place: Place) -> Bool? {
            switch temporality {
            case .delta: return false
            case .cumulative: return true
            default:
                out.items += 1
                reject(DecodeError(.unsupported, "aggregation temporality \(temporality.rawValue) is neither delta (1) nor cumulative (2)"), place)
                return nil
            }
        }

        /// The common start of every point: counted, its time, tenant and labels; `nil` when the
        /// point is skipped (no recorded value) or refused.
        private mutating func start(_ attributes: [OTLP.KeyValue], _ time: UInt64, _ flags: UInt32, _ place: Place) -> (Timestamp, String?, Labels)? {
            out.items += 1
            if flags & OTLP.noRecordedValue != 0 {
                out.skipped += 1
                return nil
            }
            guard !place.metric.isEmpty else {
                reject(DecodeError(.missingField, "the metric has no name"), place)
                return nil
            }
            guard let timestamp = OTLP.timestamp(time, context: context) else {
                reject(DecodeError(.badTimestamp, "time_unix_nano \(time) is past the year 2262"), place)
                return nil
            }
            switch context.tenantAndLabels(place.resource + OTLP.labels(attributes)) {
            case .success(let split): return (timestamp, split.tenant, split.labels)
            case .failure(let error):
                reject(error, place)
                return nil
            }
        }

        private mutating func number(_ point: OTLP.NumberPoint, _ place: Place, cumulative: Bool) {
            guard let (time, tenant, labels) = start(point.attributes, point.time, point.flags, place) else { return }
            var value = point.value
            if case .none = value {
                reject(DecodeError(.missingField, "the data point has neither as_double nor as_int"), place)
                return
            }
            if cumulative {
                let key = streamKey(tenant, labels: point.attributes, place)
                switch state.advance(key, to: OTLPCumulative.Point(start: point.startTime, time: point.time, value: .sum(value)), changes: &out.changes) {
                case .whole: break
                case .delta(.sum(let increase), _): value = increase
                default:
                    out.skipped += 1
                    return
                }
            }
            let sample = value.double ?? 0
            if let problem = context.check(value: sample, time: time) {
                reject(problem, place)
                return
            }
            out.batch.append(.metric(MetricRecord(timestamp: time, tenantID: tenant, labels: labels, name: place.metric, value: sample)))
        }

        /// A histogram point of either kind: checked by `check`, turned into a delta when
        /// cumulative, then one record carrying its distribution.
        private mutating func histogram(_ attributes: [OTLP.KeyValue], _ startTime: UInt64, _ time: UInt64, _ flags: UInt32,
                                        _ temporality: OTLP.Temporality, _ place: Place,
                                        check: () throws(DecodeError) -> OTLPCumulative.Value) {
            guard let cumulative = accepted(temporality, place), let (timestamp, tenant, labels) = start(attributes, time, flags, place) else { return }
            let value: OTLPCumulative.Value
            do throws(DecodeError) {
                value = try check()
            } catch {
                reject(error, place)
                return
            }
            var counted = value
            var extremes = OTLPDistribution.Extremes(min: value.minimum, max: value.maximum)
            if cumulative {
                let key = streamKey(tenant, labels: attributes, place)
                switch state.advance(key, to: OTLPCumulative.Point(start: startTime, time: time, value: value), changes: &out.changes) {
                case .whole: break
                case .delta(let delta, let deltaExtremes?):
                    counted = delta
                    extremes = deltaExtremes
                default:
                    out.skipped += 1
                    return
                }
            }
            distribution(counted, extremes, timestamp, tenant, labels, place)
        }

        private mutating func distribution(_ value: OTLPCumulative.Value, _ extremes: OTLPDistribution.Extremes,
                                           _ time: Timestamp, _ tenant: String?, _ labels: Labels, _ place: Place) {
            let (ranges, count, sum): ([OTLPBucketRange], UInt64, Double) = switch value {
            case .explicit(let h): (h.ranges, h.count, h.sum)
            case .exponential(let h): (h.ranges, h.count, h.sum)
            case .sum: ([], 0, 0)
            }
            guard count > 0 else {
                out.skipped += 1
                return
            }
            let record = MetricRecord(timestamp: time, tenantID: tenant, labels: labels, name: place.metric,
                                      distribution: OTLPDistribution.make(ranges, count: count, sum: sum, extremes: extremes))
            if let problem = context.check(value: record.value, time: time) {
                reject(problem, place)
                return
            }
            out.batch.append(.metric(record))
        }

        private func streamKey(_ tenant: String?, labels attributes: [OTLP.KeyValue], _ place: Place) -> OTLPCumulativeState.StreamKey {
            OTLPCumulativeState.StreamKey(tenant: tenant, resource: place.resourceLabels, scope: place.scope, name: place.metric,
                                          attributes: Labels(OTLP.labels(attributes)))
        }

        private mutating func reject(_ error: DecodeError, _ place: Place) {
            out.batch.reject(out.items, DecodeError(error.reason, "metric \"\(place.metric)\" data point \(place.point): \(error.message)"))
        }

        /// A scope's identity as one string (name, version, attributes).
        static func identity(_ scope: OTLP.Scope) -> String {
            var text = scope.name + "\u{0}" + scope.version
            for pair in OTLP.labels(scope.attributes) { text += "\u{0}\(pair.key)=\(pair.value)" }
            return text
        }
    }
}

extension OTLP {
    /// A `*_unix_nano` time: unset (0) is the request's time; `nil` past what `Int64`
    /// nanoseconds hold.
    static func timestamp(_ nanoseconds: UInt64, context: ProtocolContext) -> Timestamp? {
        if nanoseconds == 0 { return context.now }
        guard nanoseconds <= UInt64(Int64.max) else { return nil }
        return Timestamp(nanoseconds: Int64(nanoseconds))
    }
}
