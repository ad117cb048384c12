import Hummingbird
import NIOCore
import Synchronization
import SluiceModel
import SluicePipeline

/// `POST /api/v2/analytics/metrics` and `/cache`: a JSON object, a JSON array, or NDJSON of
/// records, decoded one by one; the valid ones go into the pipeline even when others are bad.
struct HTTPIngest: Sendable {
    let pipeline: Pipeline
    let maxBodyBytes: Int
    let enqueueTimeout: Duration
    let waitForDurability: Bool
    /// Set when there is a store: while it cannot write, ingest answers `507`.
    let health: StoreHealth?
    let limiter: RateLimiter?
    let decoderConfiguration: NDJSONDecoder.Configuration

    struct Rejection {
        var line: Int
        var reason: String
    }

    /// Media types an ingest body may declare; none at all is taken as JSON.
    static let mediaTypes = ["application/json", "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"]

    func handle(_ request: Request, context: SluiceRequestContext, defaultKind: RecordKind) async throws -> Response {
        let mediaType = request.headers[.contentType].map { $0.split(separator: ";")[0].trimmingWhitespace().lowercased() }
        if let mediaType, !Self.mediaTypes.contains(mediaType) {
            throw APIError(.unsupportedMediaType, "unsupported_media_type",
                           "Content-Type \(mediaType) is not accepted; send \(Self.mediaTypes.joined(separator: ", ")) (NDJSON for several records, one per line)")
        }
        if let failure = health?.failure {
            throw Self.unwritable(failure, held: false)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large", "the body is larger than server.max_body_bytes (\(maxBodyBytes) bytes); send smaller batches")
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "the body is larger than server.max_body_bytes (\(maxBodyBytes) bytes); send smaller batches")
        }
        var decoder = decoderConfiguration
        decoder.defaultKind = defaultKind
        if case .tenant(let own) = context.identity { decoder.defaultTenantID = own }
        let ndjson = mediaType.map { $0 != "application/json" } ?? false
        let (records, rejected) = try Self.decode(Array(body.readableBytesView), ndjson: ndjson, decoder: NDJSONDecoder(configuration: decoder))

        // A record without a tenant took the token's (above); one naming another refuses the batch.
        if case .tenant(let own) = context.identity, let other = records.first(where: { $0.tenantID != own }) {
            throw APIError.forbidden("a record names tenant \(other.tenantID ?? "null"), but this token writes for \(own) only; nothing in the request was accepted")
        }
        if let limiter, !records.isEmpty {
            let tenant: String? = if case .tenant(let own) = context.identity { own } else { nil }
            if let wait = limiter.take(records.count, tenant: tenant ?? "admin") {
                throw APIError(.tooManyRequests, "rate_limited", "over server.tenant_records_per_second; retry in \(wait) s",
                               headers: [.retryAfter: String(wait)])
            }
        }
        pipeline.counters.update { summary in
            summary.records += UInt64(records.count)
            for r in records { summary.recordsByType[r.kind, default: 0] += 1 }
            summary.errors += UInt64(rejected.count)
        }
        if !records.isEmpty {
            let acknowledgement = waitForDurability ? Acknowledgement() : nil
            guard try await enqueue(RecordBatch(records: records, acknowledgement: acknowledgement)) else {
                throw APIError(.serviceUnavailable, "pipeline_full", "the pipeline stayed full for \(enqueueTimeout); nothing was accepted; retry",
                               headers: [.retryAfter: "1"])
            }
            if let acknowledgement {
                switch await withTimeout(enqueueTimeout * 5, { await acknowledgement.wait() }) {
                case .stored:
                    break
                case .failed(let reason):
                    throw Self.unwritable(reason, held: true)
                case .cancelled, nil:
                    throw APIError(.serviceUnavailable, "not_durable", "the records are in the pipeline but were not confirmed durable in time; retry (token usage is deduplicated by request_id)",
                                   headers: [.retryAfter: "1"])
                }
            }
        }
        var json = JSONWriter()
        json.beginObject()
        json.key("accepted"); json.integer(records.count)
        if !rejected.isEmpty {
            json.key("rejected")
            json.beginArray()
            for r in rejected.prefix(100) {
                json.beginObject()
                json.key("line"); json.integer(r.line)
                json.key("reason"); json.string(r.reason)
                json.endObject()
            }
            json.endArray()
            if rejected.count > 100 { json.key("rejected_total"); json.integer(rejected.count) }
        }
        json.endObject()
        json.newline()
        return Response(status: rejected.isEmpty ? .accepted : .badRequest, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// `507`: the store cannot write. `held`: the records were taken before the failure and
    /// are held in memory until the store writes again, so they are not yet durable.
    static func unwritable(_ reason: String, held: Bool) -> APIError {
        let what = held
            ? "these records are held in memory and will be written when the store can write again, but they are not durable yet"
            : "nothing in the request was accepted"
        return APIError(.insufficientStorage, "store_unwritable", "the store cannot write (\(reason)); \(what); retry once space is freed",
                        headers: [.retryAfter: "5"])
    }

    /// Sends, waiting at most `enqueueTimeout` for room; `false` when it gave up (nothing sent).
    private func enqueue(_ batch: RecordBatch) async throws -> Bool {
        let input = pipeline.input
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await input.send(batch)
                    return true
                } catch is CancellationError {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: enqueueTimeout)
                return false
            }
            let first = try await group.next()!
            group.cancelAll()
            if first { return true }
            // The timer won, but the send may have got through as it fired.
            return try await group.next() ?? false
        }
    }

    /// Decodes a body: an array's elements are numbered from 1, NDJSON's lines from 1.
    static func decode(_ bytes: [UInt8], ndjson: Bool, decoder: NDJSONDecoder) throws -> ([Record], [Rejection]) {
        let now = Timestamp.now()
        var records: [Record] = []
        var rejected: [Rejection] = []
        func take(_ line: UnsafeBufferPointer<UInt8>, _ number: Int) {
            switch decoder.decode(line, ingestTime: now) {
            case .success(let r): records.append(r)
            case .failure(let e): rejected.append(Rejection(line: number, reason: e.message))
            }
        }
        try bytes.withUnsafeBufferPointer { buffer in
            // A byte order mark may open the body; the line splitter skips it for NDJSON.
            let mark = buffer.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
            let array = UnsafeBufferPointer(rebasing: buffer[mark...])
            let first = array.firstIndex { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
            if !ndjson, let first, array[first] == UInt8(ascii: "[") {
                switch JSONArraySplitter.elements(array) {
                case .success(let ranges):
                    for (i, range) in ranges.enumerated() { take(UnsafeBufferPointer(rebasing: array[range]), i + 1) }
                case .failure(let error):
                    throw APIError.badRequest("the body is not a valid JSON array: \(error.message)")
                }
                return
            }
            var splitter = LineSplitter(maximumLineBytes: decoder.configuration.maximumLineBytes)
            let blank: (UnsafeBufferPointer<UInt8>) -> Bool = { $0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
            let handle: (LineSplitter.Line) -> Void = { line in
                switch line {
                case .line(let l, let n): if !blank(l) { take(l, n) }
                case .tooLong(let length, let n): rejected.append(Rejection(line: n, reason: "line is \(length) bytes, longer than the limit"))
                }
            }
            splitter.feed(buffer, handle)
            splitter.finish(handle)
        }
        if records.isEmpty && rejected.isEmpty { throw APIError.badRequest("the body holds no records") }
        return (records, rejected)
    }
}

/// Runs `body`, giving up after `timeout` (`nil`).
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Records per second per tenant, with a burst of one second's worth (a token bucket).
final class RateLimiter: Sendable {
    let perSecond: Int
    private let buckets = Mutex<[String: (tokens: Double, at: ContinuousClock.Instant)]>([:])

    init(perSecond: Int) { self.perSecond = perSecond }

    /// Takes `n` records' worth; returns the seconds to wait when there is not enough.
    func take(_ n: Int, tenant: String) -> Int? {
        let now = ContinuousClock.now
        return buckets.withLock { buckets in
            var bucket = buckets[tenant] ?? (Double(perSecond), now)
            let elapsed = now - bucket.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Double(perSecond), bucket.tokens + seconds * Double(perSecond))
            bucket.at = now
            guard bucket.tokens >= Double(n) else {
                buckets[tenant] = bucket
                return max(1, Int(((Double(n) - bucket.tokens) / Double(perSecond)).rounded(.up)))
            }
            bucket.tokens -= Double(n)
            buckets[tenant] = bucket
            return nil
        }
    }
}
