import Foundation
import SluiceModel
import SluiceNATS
import SluiceStore

/// How one node asks another for the windows of the partitions it owns (design §12), over
/// NATS request/reply on `sluice.query.<stream>.<node>`.
///
/// The request is JSON. The answer is one or more messages to the request's reply subject:
/// the windows in the store's lossless block encoding (sketches and HyperLogLogs whole, so the
/// asking node merges them exactly), cut to fit the server's payload limit, then an empty
/// message whose `Sluice-Answered` header lists the partitions answered (or whose
/// `Sluice-Error` says why none were).
enum ClusterQuery {
    struct Request: Codable, Sendable, Hashable {
        /// Visits windows instead of metric windows.
        var visits = false
        var partitions: [Int]
        var tenant: String?
        var metric: String?
        /// Window length, µs.
        var length: Int64?
        var from: Int64?
        var to: Int64?
        /// Instead of windows: what each partition's store holds for this query.
        var stored: Stored?
        /// Instead of windows: the token meter's open days and months (of `tenant`, or all).
        var tokens = false

        /// A store query, as `StoreQuery` has it.
        struct Stored: Codable, Sendable, Hashable {
            var kinds: [UInt8]?
            var tenant: String?
            var metric: String?
            var from: Int64?
            var to: Int64?
            var windowLength: Int64?
            /// A window stored in parts answered as one.
            var combined: Bool

            init(_ query: StoreQuery, combined: Bool) {
                kinds = query.kinds.map { $0.map(\.rawValue).sorted() }
                tenant = query.tenantID
                metric = query.metric
                from = query.from?.microseconds
                to = query.to?.microseconds
                windowLength = query.windowLength?.microseconds
                self.combined = combined
            }

            var query: StoreQuery {
                StoreQuery(kinds: kinds.map { Set($0.compactMap(StoredRecord.Kind.init(rawValue:))) }, tenantID: tenant, metric: metric,
                           from: from.map { Timestamp(microseconds: $0) }, to: to.map { Timestamp(microseconds: $0) },
                           windowLength: windowLength.map { WindowDuration(microseconds: $0) })
            }
        }

        init(tokensOf tenant: String?, partitions: [Int]) {
            self.partitions = partitions
            self.tenant = tenant
            tokens = true
        }

        init(_ query: StoreQuery, combined: Bool, partitions: [Int]) {
            self.partitions = partitions
            stored = Stored(query, combined: combined)
        }

        init(_ filter: WindowQuery.Filter, visits: Bool, partitions: [Int]) {
            self.visits = visits
            self.partitions = partitions
            tenant = filter.tenant
            metric = filter.metric
            length = filter.length?.microseconds
            from = filter.from?.microseconds
            to = filter.to?.microseconds
        }

        var filter: WindowQuery.Filter {
            WindowQuery.Filter(tenant: tenant, metric: metric, length: length.map { WindowDuration(microseconds: $0) },
                               from: from.map { Timestamp(microseconds: $0) }, to: to.map { Timestamp(microseconds: $0) })
        }
    }

    /// A token meter's usage row on the wire (JSON: the store does not keep these).
    struct Usage: Codable, Sendable {
        var period: String
        var start: Int64
        var tenant: String
        var model: String
        var requests: UInt64
        var prompt: UInt64
        var completion: UInt64
        var cached: UInt64
        var cost: Int64?

        init(_ u: TokenUsageSummary) {
            period = u.period.rawValue
            start = u.start.microseconds
            tenant = u.tenantID
            model = u.model
            requests = u.requests
            prompt = u.promptTokens
            completion = u.completionTokens
            cached = u.cachedTokens
            cost = u.costMicroUSD
        }

        var summary: TokenUsageSummary? {
            UsagePeriod(rawValue: period).map {
                TokenUsageSummary(period: $0, start: Timestamp(microseconds: start), tenantID: tenant, model: model, requests: requests,
                                  promptTokens: prompt, completionTokens: completion, cachedTokens: cached, costMicroUSD: cost)
            }
        }
    }

    static let answeredHeader = "Sluice-Answered"
    static let errorHeader = "Sluice-Error"

    static func subject(stream: String, node: String) -> String { "sluice.query.\(stream).\(node)" }

    /// The answer's messages: `records` in parts of at most `maximumPayload` bytes, then the end.
    /// Token usage goes as JSON; everything else in the block encoding.
    static func answer(_ records: [StoredRecord], answered: [Int], tokens: Bool, maximumPayload: Int) throws -> [(payload: [UInt8], headers: NATSHeaders?)] {
        var parts: [(payload: [UInt8], headers: NATSHeaders?)] = []
        if tokens {
            var usage: [Usage] = []
            for case .output(.tokenUsage(let u)) in records { usage.append(Usage(u)) }
            parts.append((Array(try JSONEncoder().encode(usage)), nil))
            parts.append(([], NATSHeaders([(answeredHeader, answered.map(String.init).joined(separator: ","))])))
            return parts
        }
        func add(_ slice: ArraySlice<StoredRecord>) {
            guard !slice.isEmpty else { return }
            let payload = StoredRecord.encodeBlock(Array(slice))
            if payload.count <= maximumPayload || slice.count == 1 {
                parts.append((payload, nil))
            } else {
                let middle = slice.startIndex + slice.count / 2
                add(slice[..<middle])
                add(slice[middle...])
            }
        }
        var start = 0
        while start < records.count {
            let end = min(records.count, start + 2_048)
            add(records[start..<end])
            start = end
        }
        parts.append(([], NATSHeaders([(answeredHeader, answered.map(String.init).joined(separator: ","))])))
        return parts
    }

    static func failure(_ reason: String) -> NATSHeaders {
        NATSHeaders([(errorHeader, reason.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))])
    }

    /// Asks `node` and collects its answer: the records and the partitions it answered for.
    static func ask(_ client: NATSClient, stream: String, node: String, request: Request,
                    timeout: Duration) async throws -> (records: [StoredRecord], answered: Set<Int>) {
        var random = SystemRandomNumberGenerator()
        let inbox = "_INBOX.query.\(String(random.next(), radix: 36))"
        let subscription = try await client.subscribe(inbox)
        defer { subscription.unsubscribe() }
        try client.publish(subject(stream: stream, node: node), payload: Array(try JSONEncoder().encode(request)), replyTo: inbox)
        return try await withThrowingTaskGroup(of: (records: [StoredRecord], answered: Set<Int>)?.self) { group in
            group.addTask {
                var records: [StoredRecord] = []
                for await message in subscription {
                    if message.status == 503 { throw ClusterQueryError("node \(node) has no query responder (it is stopping or gone)") }
                    if let reason = message.headers?[errorHeader] { throw ClusterQueryError("node \(node) could not answer: \(reason)") }
                    if let answered = message.headers?[answeredHeader] {
                        return (records, Set(answered.split(separator: ",").compactMap { Int($0) }))
                    }
                    if request.tokens {
                        for usage in try JSONDecoder().decode([Usage].self, from: Data(message.payload)) {
                            if let summary = usage.summary { records.append(.output(.tokenUsage(summary))) }
                        }
                    } else {
                        records += try StoredRecord.decodeBlock(message.payload)
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                subscription.unsubscribe()
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else {
                throw ClusterQueryError("node \(node) did not answer within \(timeout)")
            }
            return answer
        }
    }
}

struct ClusterQueryError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
