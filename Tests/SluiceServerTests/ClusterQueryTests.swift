import Foundation
import Testing
import SluiceModel
import SluiceStore
@testable import SluiceServer

/// How a node's answer to another's query is cut into messages and read back: every window
/// whole (its sketch included, so merged percentiles stay exact), whatever the payload limit.
@Suite("Cluster query answers")
struct ClusterQueryTests {
    static func windows(_ count: Int) -> [StoredRecord] {
        var random = SeededRandom(seed: 7)
        return (0..<count).map { i in
            var sketch = DDSketch()
            var sum = ExactSum()
            for _ in 0..<(1 + Int(random.next() % 50)) {
                let value = Double(random.next() % 10_000) / 8 + 0.1
                sketch.add(value)
                sum.add(value)
            }
            let series = SeriesKey(tenantID: "tenant-\(i % 5)", name: "latency", labels: Labels([.init(key: "route", value: "/r\(i % 7)"), .init(key: "zone", value: "z\(i % 3)")]))
            let span = WindowSpan(length: .minutes(1), start: Timestamp(microseconds: 1_800_000_000_000_000 + Int64(i / 35) * 60_000_000))
            return .output(.window(WindowSummary(span: span, series: series, sketch: sketch, sum: sum)))
        }
    }

    @Test("an answer cut to any payload limit reads back as the same windows, sketches included", arguments: [600, 4_096, 65_536, 1 << 20])
    func roundTrip(limit: Int) throws {
        let records = Self.windows(700)
        let parts = try ClusterQuery.answer(records, answered: [3, 11], tokens: false, maximumPayload: limit)
        #expect(parts.last?.payload.isEmpty == true)
        if limit <= 65_536 { #expect(parts.count > 2, "the answer is cut into several messages") }
        #expect(parts.last?.headers?[ClusterQuery.answeredHeader] == "3,11")
        // Each part fits, unless one window alone is larger than the limit.
        for part in parts.dropLast() where part.payload.count > limit {
            #expect(try StoredRecord.decodeBlock(part.payload).count == 1, "a part over the limit holds one window")
        }
        if limit >= 4_096 { #expect(parts.dropLast().allSatisfy { $0.payload.count <= limit }) }
        var back: [StoredRecord] = []
        for part in parts.dropLast() { back += try StoredRecord.decodeBlock(part.payload) }
        func key(_ r: StoredRecord) -> String {
            guard case .output(.window(let w)) = r else { return "" }
            return "\(w.series.tenantID ?? "")|\(w.series.labels)|\(w.span.start.microseconds)"
        }
        let sent = Dictionary(uniqueKeysWithValues: records.map { (key($0), $0) })
        #expect(back.count == records.count)
        for r in back {
            guard case .output(.window(let got)) = r, case .output(.window(let want))? = sent[key(r)] else {
                Issue.record("\(key(r)) was not sent")
                continue
            }
            #expect(got == want, "\(key(r)) changed on the way")
            // Merging what came back gives what merging the originals gives.
            #expect(got.sketch?.quantile(0.99) == want.sketch?.quantile(0.99))
        }
    }

    @Test("token usage goes as JSON and comes back field for field")
    func tokens() throws {
        let usage = TokenUsageSummary(period: .month, start: Timestamp(microseconds: 1_800_000_000_000_000), tenantID: "shop", model: "gpt-4o",
                                      requests: 3, promptTokens: 1_200, completionTokens: 300, cachedTokens: 100, costMicroUSD: nil)
        let parts = try ClusterQuery.answer([.output(.tokenUsage(usage))], answered: [2], tokens: true, maximumPayload: 1 << 20)
        #expect(parts.count == 2)
        let rows = try JSONDecoder().decode([ClusterQuery.Usage].self, from: Data(parts[0].payload))
        #expect(rows.map(\.summary) == [usage])
    }

    @Test("a request survives JSON, filter and store query alike")
    func requests() throws {
        let filter = WindowQuery.Filter(tenant: "shop", metric: "latency", length: .minutes(5), from: Timestamp(microseconds: 1), to: Timestamp(microseconds: 2))
        let windows = ClusterQuery.Request(filter, visits: true, partitions: [1, 4])
        let back = try JSONDecoder().decode(ClusterQuery.Request.self, from: JSONEncoder().encode(windows))
        #expect(back == windows)
        #expect(back.filter.tenant == "shop" && back.filter.length == .minutes(5) && back.filter.to == Timestamp(microseconds: 2))
        let query = StoreQuery(kinds: [.anomaly, .cacheWindow], tenantID: "shop", from: Timestamp(microseconds: 5), windowLength: .minutes(1))
        let stored = try JSONDecoder().decode(ClusterQuery.Request.self, from: JSONEncoder().encode(ClusterQuery.Request(query, combined: true, partitions: [0])))
        #expect(stored.stored?.query == query)
        #expect(stored.stored?.combined == true)
    }
}
