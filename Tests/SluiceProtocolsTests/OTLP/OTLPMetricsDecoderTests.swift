import Foundation
import SluiceModel
import SluicePipeline
import Testing
@testable import SluiceProtocols

@Suite("OTLP metrics: what the SDK recorded becomes samples and distributions")
struct OTLPMetricsDecoderTests {
    @Test("delta gauges and sums become samples of their value, with resource and point attributes as labels")
    func deltaSamples() throws {
        let decoded = try OTLPFixtures.decodeMetrics("metrics-delta.pb", state: OTLPFixtures.freshState())
        let (account, times) = OTLPFixtures.metrics("metrics-delta")
        #expect(decoded.batch.rejections.isEmpty)
        #expect(decoded.skipped == 0)

        let requests = decoded.metrics("requests")
        let counted = account["requests"] as! [String: Any]
        #expect(requests.count == 2)
        for record in requests {
            let route = try #require(record.labels["route"])
            #expect(record.value == OTLPFixtures.double(counted[route]), "route \(route)")
            #expect(record.tenantID == "acme")
            #expect(record.labels["service.name"] == "checkout")
            #expect(record.labels["tenant_id"] == nil, "tenant_id names the tenant and is not a label")
            // `Resource.create` adds the SDK's own attributes: they would make a series per SDK build.
            #expect(record.labels["telemetry.sdk.language"] == nil && record.labels["telemetry.sdk.version"] == nil)
            #expect(record.timestamp == Timestamp(nanoseconds: Int64(OTLPFixtures.nanoseconds(times["requests"]![1]))))
        }
        #expect(decoded.metrics("queue_depth").map(\.value) == [OTLPFixtures.double(account["queue_depth"])])
        let temperature = try #require(decoded.metrics("temperature").first)
        #expect(temperature.value == OTLPFixtures.double(account["temperature"]))
        #expect(temperature.labels["room"] == "lab")
    }

    @Test("explicit and exponential histograms keep count, sum, min and max exact, percentiles within the stated error",
          arguments: ["latency", "payload"])
    func deltaHistograms(name: String) throws {
        let decoded = try OTLPFixtures.decodeMetrics("metrics-delta.pb", state: OTLPFixtures.freshState())
        let truth = OTLPFixtures.metrics("metrics-delta").account[name] as! [String: Any]
        let record = try #require(decoded.metrics(name).first)
        let distribution = try #require(record.distribution)
        #expect(distribution.count == UInt64(OTLPFixtures.int(truth["count"])))
        #expect(distribution.sum == OTLPFixtures.double(truth["sum"]))
        #expect(distribution.sketch.min == OTLPFixtures.double(truth["min"]))
        #expect(distribution.sketch.max == OTLPFixtures.double(truth["max"]))
        #expect(withinStatedError(distribution.sketch.quantile(0.5), OTLPFixtures.double(truth["p50"]), distribution))
        #expect(withinStatedError(distribution.sketch.quantile(0.99), OTLPFixtures.double(truth["p99"]), distribution))
        if name == "latency" {
            // Bounds about 1.2 apart: no sample is further than (b − a)/(b + a) of the widest
            // bucket from its representative.
            let bounds = (OTLPFixtures.expected()["fine_bounds"] as! [Any]).map { OTLPFixtures.double($0) }
            let widest = zip(bounds, bounds.dropFirst()).map { ($1 - $0) / ($1 + $0) }.max()!
            #expect(distribution.bucketError <= widest + 1e-12)
            #expect(widest < 0.0910)
        } else {
            // The SDK's exponential buckets at its chosen scale are narrower still.
            #expect(distribution.bucketError < 0.05)
        }
    }

    @Test("OTLP/JSON, snake_case JSON and protobuf of the same request give the same records",
          arguments: [("metrics-delta.pb", "metrics-delta.json"), ("metrics-delta.pb", "metrics-delta-snake.json"),
                      ("metrics-cumulative-1.pb", "metrics-cumulative-1.json"), ("metrics-bad.pb", "metrics-bad.json")])
    func encodingsAgree(protobuf: String, json: String) throws {
        let a = try OTLPFixtures.decodeMetrics(protobuf, state: OTLPFixtures.freshState())
        let b = try OTLPFixtures.decodeMetrics(json, state: OTLPFixtures.freshState())
        #expect(!a.batch.records.isEmpty)
        #expect(a.batch.records == b.batch.records)
        #expect(a.batch.rejections == b.batch.rejections)
        #expect(a.skipped == b.skipped)
        #expect(a.items == b.items)
    }

    @Test("OTLP/JSON integers may be numbers or strings, keys snake_case or lowerCamelCase, enums numbers or names")
    func jsonSpellings() throws {
        let spellings = [
            #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"jobs","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"timeUnixNano":1790000000000000000,"asInt":7}]}}]}]}]}"#,
            #"{"resource_metrics":[{"scope_metrics":[{"metrics":[{"name":"jobs","sum":{"aggregation_temporality":"AGGREGATION_TEMPORALITY_DELTA","is_monotonic":true,"data_points":[{"time_unix_nano":"1790000000000000000","as_int":"7"}]}}]}]}]}"#,
        ]
        for text in spellings {
            let decoded = try Array(text.utf8).withUnsafeBufferPointer { buffer in
                try OTLPMetricsDecoder(state: OTLPFixtures.freshState()).decode(buffer, encoding: .json, context: OTLPFixtures.context())
            }
            #expect(decoded.metrics("jobs").map(\.value) == [7], "\(text)")
            #expect(decoded.metrics("jobs").map(\.timestamp) == [Timestamp(microseconds: 1_790_000_000_000_000)])
        }
    }

    @Test("each bad point is refused with its number, metric, point and reason; the rest is kept",
          arguments: ["metrics-bad.pb", "metrics-bad.json"])
    func refusesBadPoints(file: String) throws {
        let decoded = try OTLPFixtures.decodeMetrics(file, state: OTLPFixtures.freshState())
        let bad = OTLPFixtures.expected()["bad"] as! [String: Any]
        let refusals = bad["refusals"] as! [[String: Any]]
        #expect(decoded.items == OTLPFixtures.int(bad["points"]))
        #expect(decoded.batch.records.count == OTLPFixtures.int(bad["taken"]))
        #expect(decoded.skipped == OTLPFixtures.int(bad["skipped"]))
        #expect(decoded.batch.rejections.count == refusals.count)
        for (rejection, expected) in zip(decoded.batch.rejections, refusals) {
            #expect(rejection.line == OTLPFixtures.int(expected["number"]))
            #expect(rejection.error.reason.rawValue == expected["reason"] as! String)
            let place = "metric \"\(expected["metric"] as! String)\" data point \(OTLPFixtures.int(expected["point"]))"
            #expect(rejection.error.message.hasPrefix(place), "\(rejection.error.message)")
        }
        let summary = try #require(decoded.batch.rejections.first { $0.error.reason == .unsupported })
        #expect(summary.error.message.contains("summary"))
    }

    @Test("a body that is not OTLP is refused whole, naming where it breaks")
    func refusesMalformedBodies() {
        let cases: [([UInt8], OTLPEncoding, String)] = [
            (Array(OTLPFixtures.body("metrics-delta.pb").prefix(700)), .protobuf, "at byte"),
            ([0x0A, 0x04, 0x12, 0x02, 0x10, 0x01], .protobuf, "field 2 (metrics) has wire type 0"),
            (Array(#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "gauge": {"dataPoints": [{"asDouble": 1,}]}}]}]}]}"#.utf8), .json, "invalid JSON at byte 106"),
            (Array(#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": 5}]}]}]}"#.utf8), .json, "resourceMetrics[0].scopeMetrics[0].metrics[0].name must be a string"),
            (Array(#"{"resourceMetrics": {}}"#.utf8), .json, "resourceMetrics must be an array"),
            (Array(#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "gauge": {"dataPoints": [{"asInt": "1.5"}]}}]}]}]}"#.utf8), .json, "asInt must be an integer"),
        ]
        for (bytes, encoding, fragment) in cases {
            let error = #expect(throws: ProtocolError.self) {
                try bytes.withUnsafeBufferPointer { buffer in
                    try OTLPMetricsDecoder(state: OTLPFixtures.freshState()).decode(buffer, encoding: encoding, context: OTLPFixtures.context())
                }
            }
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error"), expected \(fragment)")
        }
    }
}
