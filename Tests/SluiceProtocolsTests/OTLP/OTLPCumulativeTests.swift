import SluiceModel
import SluicePipeline
import Testing
@testable import SluiceProtocols

/// Cumulative points (the SDKs' default) from one SDK: two collections, a third whose extremes
/// lie inside the earlier ones, then a restart with a new start time.
@Suite("OTLP cumulative points become deltas per stream")
struct OTLPCumulativeTests {
    static let sequence = ["metrics-cumulative-1", "metrics-cumulative-2", "metrics-cumulative-3", "metrics-cumulative-restart"]

    @Test("each collection counts what was recorded since the previous one; a restart is counted whole",
          arguments: ["pb", "json"])
    func deltasAndReset(encoding: String) throws {
        let state = OTLPFixtures.freshState()
        var queueLevel = 0.0
        for (i, name) in Self.sequence.enumerated() {
            let decoded = try OTLPFixtures.decodeMetrics("\(name).\(encoding)", state: state)
            let account = OTLPFixtures.metrics(name).account
            #expect(decoded.batch.rejections.isEmpty, "\(name)")

            // Counters: the increase since the previous collection (after a restart: all of it).
            let counted = account["requests"] as! [String: Any]
            for record in decoded.metrics("requests") {
                #expect(record.value == OTLPFixtures.double(counted[record.labels["route"]!]), "\(name) \(record.labels)")
            }
            #expect(decoded.metrics("requests").count == 2, "\(name)")
            // An up-down counter is a level: the cumulative value itself (restarted from zero).
            queueLevel = (name.hasSuffix("restart") ? 0 : queueLevel) + OTLPFixtures.double(account["queue_depth"])
            #expect(decoded.metrics("queue_depth").map(\.value) == [queueLevel], "\(name)")

            for histogram in ["latency", "payload"] {
                let truth = account[histogram] as! [String: Any]
                let distribution = try #require(decoded.metrics(histogram).first?.distribution, "\(name) \(histogram)")
                #expect(distribution.count == UInt64(OTLPFixtures.int(truth["count"])), "\(name) \(histogram)")
                #expect(distribution.sum == OTLPFixtures.double(truth["sum"]), "\(name) \(histogram)")
                let (min, max) = (OTLPFixtures.double(truth["min"]), OTLPFixtures.double(truth["max"]))
                if i == 2 {
                    // The third collection's extremes lie inside the second's, so the cumulative
                    // ones did not move: the window gets bucket edges that bound the true ones.
                    let earlier = OTLPFixtures.metrics(Self.sequence[1]).account[histogram] as! [String: Any]
                    let (lowest, highest) = (OTLPFixtures.double(earlier["min"]), OTLPFixtures.double(earlier["max"]))
                    #expect(distribution.sketch.min <= min && distribution.sketch.min >= lowest, "\(name) \(histogram) min \(distribution.sketch.min)")
                    #expect(distribution.sketch.max >= max && distribution.sketch.max <= highest, "\(name) \(histogram) max \(distribution.sketch.max)")
                } else {
                    // First point, a delta that set new extremes, and a restart: exact.
                    #expect(distribution.sketch.min == min, "\(name) \(histogram)")
                    #expect(distribution.sketch.max == max, "\(name) \(histogram)")
                }
                #expect(withinStatedError(distribution.sketch.quantile(0.5), OTLPFixtures.double(truth["p50"]), distribution), "\(name) \(histogram)")
                #expect(withinStatedError(distribution.sketch.quantile(0.99), OTLPFixtures.double(truth["p99"]), distribution), "\(name) \(histogram)")
            }
        }
    }

    @Test("a stream's first point from before the decoder started is only the reference for the next")
    func firstPointBeforeStart() throws {
        let (_, times) = OTLPFixtures.metrics("metrics-cumulative-1")
        let collected = OTLPFixtures.nanoseconds(times["requests"]![1])
        let state = OTLPCumulativeState(start: Timestamp(nanoseconds: Int64(collected)))
        let first = try OTLPFixtures.decodeMetrics("metrics-cumulative-1.pb", state: state)
        #expect(first.metrics("requests").isEmpty)
        #expect(first.metrics("latency").isEmpty)
        #expect(first.metrics("payload").isEmpty)
        #expect(first.skipped == 4, "two counter streams and two histograms kept as references")
        // Gauges and levels need no reference.
        #expect(first.metrics("temperature").count == 1)
        #expect(first.metrics("queue_depth").count == 1)

        let second = try OTLPFixtures.decodeMetrics("metrics-cumulative-2.pb", state: state)
        let account = OTLPFixtures.metrics("metrics-cumulative-2").account
        #expect(second.metrics("latency").first?.distribution?.count == UInt64(OTLPFixtures.int((account["latency"] as! [String: Any])["count"])))
        #expect(second.metrics("requests").map(\.value).reduce(0, +)
                == (account["requests"] as! [String: Any]).values.map { OTLPFixtures.double($0) }.reduce(0, +))
    }

    @Test("a request sent again changes nothing")
    func resentRequest() throws {
        let state = OTLPFixtures.freshState()
        _ = try OTLPFixtures.decodeMetrics("metrics-cumulative-1.pb", state: state)
        _ = try OTLPFixtures.decodeMetrics("metrics-cumulative-2.pb", state: state)
        let again = try OTLPFixtures.decodeMetrics("metrics-cumulative-2.pb", state: state)
        #expect(again.metrics("requests").isEmpty)
        #expect(again.metrics("latency").isEmpty)
        #expect(again.metrics("payload").isEmpty)
        #expect(again.skipped == 4)
        // The next collection is still the delta against the second one.
        let third = try OTLPFixtures.decodeMetrics("metrics-cumulative-3.pb", state: state)
        let account = OTLPFixtures.metrics("metrics-cumulative-3").account
        #expect(third.metrics("payload").first?.distribution?.count == UInt64(OTLPFixtures.int((account["payload"] as! [String: Any])["count"])))
    }

    @Test("a request the ingest edge refused is undone, so that its retry counts")
    func revertedRequest() throws {
        let state = OTLPFixtures.freshState()
        _ = try OTLPFixtures.decodeMetrics("metrics-cumulative-1.pb", state: state)
        let refused = try OTLPFixtures.decodeMetrics("metrics-cumulative-2.pb", state: state)
        #expect(!refused.changes.isEmpty)
        state.revert(refused.changes)
        let retried = try OTLPFixtures.decodeMetrics("metrics-cumulative-2.pb", state: state)
        #expect(retried.batch.records == refused.batch.records)
    }

    @Test("the state forgets the least recently used streams past its limit")
    func bounded() throws {
        let state = OTLPCumulativeState(start: Timestamp(microseconds: 0), maximumStreams: 3)
        let decoded = try OTLPFixtures.decodeMetrics("metrics-cumulative-1.pb", state: state)
        #expect(decoded.metrics("requests").count == 2)
        #expect(state.count <= 3)
    }
}
