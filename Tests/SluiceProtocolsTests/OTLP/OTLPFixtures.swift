import Foundation
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceProtocols

/// The request bodies `Fixtures/otlp/make_fixtures.py` made with the OpenTelemetry SDK and its
/// own encoders, and its `expected.json`: what the SDK was given, as Python worked it out.
enum OTLPFixtures {
    static let directory = FixtureLocator.fixtures() + "/otlp"

    static func body(_ file: String) -> [UInt8] {
        guard let bytes = TestFiles.read("\(directory)/\(file)") else { fatalError("missing fixture \(file)") }
        return bytes
    }

    /// `expected.json`, read with Foundation (not with the parser under test).
    static func expected() -> [String: Any] {
        let data = Data(body("expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// One metrics request's account: `account` (what was recorded) and `times` (per metric,
    /// `[start, time]` in Unix nanoseconds).
    static func metrics(_ name: String) -> (account: [String: Any], times: [String: [Any]]) {
        let all = (expected()["metrics"] as! [String: Any])[name] as! [String: Any]
        return (all["account"] as! [String: Any], all["times"] as! [String: [Any]])
    }

    static func nanoseconds(_ any: Any) -> UInt64 { (any as! NSNumber).uint64Value }
    static func double(_ any: Any?) -> Double { (any as! NSNumber).doubleValue }
    static func int(_ any: Any?) -> Int { (any as! NSNumber).intValue }

    static func context(tenant: String? = nil) -> ProtocolContext {
        ProtocolContext(tenantID: tenant, now: Timestamp(microseconds: 1_000_000))
    }

    static func decodeMetrics(_ file: String, state: OTLPCumulativeState, tenant: String? = nil) throws(ProtocolError) -> OTLPDecoded {
        let bytes = body(file)
        let encoding: OTLPEncoding = file.hasSuffix(".pb") ? .protobuf : .json
        return try bytes.withUnsafeBufferPointer { buffer throws(ProtocolError) in
            try OTLPMetricsDecoder(state: state).decode(buffer, encoding: encoding, context: context(tenant: tenant))
        }
    }

    static func decodeTraces(_ file: String, tenant: String? = nil) throws(ProtocolError) -> OTLPDecoded {
        let bytes = body(file)
        let encoding: OTLPEncoding = file.hasSuffix(".pb") ? .protobuf : .json
        return try bytes.withUnsafeBufferPointer { buffer throws(ProtocolError) in
            try OTLPTracesDecoder.decode(buffer, encoding: encoding, context: context(tenant: tenant))
        }
    }

    /// A state that counts every first point (the decoder "started" at the epoch).
    static func freshState() -> OTLPCumulativeState { OTLPCumulativeState(start: Timestamp(microseconds: 0)) }
}

extension OTLPDecoded {
    /// The metric records named `name`.
    func metrics(_ name: String) -> [MetricRecord] {
        batch.records.compactMap { if case .metric(let m) = $0, m.name == name { m } else { nil } }
    }
}

/// What the window shows of a percentile may be off by the bucket's error and then the
/// sketch's: (1 + e)(1 + α) − 1 of the true sample of that rank.
func withinStatedError(_ estimate: Double?, _ truth: Double, _ distribution: Distribution) -> Bool {
    guard let estimate else { return false }
    let bound = (1 + distribution.bucketError) * (1 + DDSketch.relativeAccuracy) - 1
    return abs(estimate - truth) <= bound * abs(truth) + 1e-9
}
