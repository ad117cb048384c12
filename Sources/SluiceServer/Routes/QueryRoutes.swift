import HTTPTypes
import Hummingbird
import SluiceModel
import SluicePipeline
import SluiceStore

/// The read side of the API: stored records plus the pipeline's live state.
struct QueryRoutes: Sendable {
    let state: ServerState
    /// Paces `settle`'s timeout: the server passes `ContinuousClock()`.
    let settleTimer: @Sendable (Duration) async -> Bool

    init<C: Clock>(state: ServerState, clock: C) where C.Duration == Duration {
        self.state = state
        settleTimer = { timeout in await state.settle(within: timeout, clock: clock) }
    }

    /// The longest `settle=` a query may ask for.
    static let longestSettle = WindowDuration.seconds(30)

    /// Reads `settle=DURATION` and, when given, waits until what was taken before the request
    /// has reached the windows it reads (`ServerState.settle`), at most that long. Returns the
    /// `Sluice-Settled` header to answer with: `true`, or `false` when the time ran out first.
    func settle(_ request: Request) async throws -> HTTPFields {
        guard let text = request.uri.queryParameters.get("settle") else { return [:] }
        let timeout: WindowDuration
        switch WindowDuration.parseUserInput(text, name: "settle") {
        case .success(let d): timeout = d
        case .failure(let problem): throw APIError.badRequest(problem.description)
        }
        guard timeout <= Self.longestSettle else {
            throw APIError.badRequest("settle=\(text): must be at most \(Self.longestSettle.humanDescription)")
        }
        let settled = await settleTimer(.microseconds(timeout.microseconds))
        return [Self.settledField: settled ? "true" : "false"]
    }

    static let settledField = HTTPField.Name("Sluice-Settled")!

    /// The tenant a query may look at: its own for a tenant token; any (or all) for admin.
    static func tenant(_ request: Request, _ context: SluiceRequestContext) throws -> String? {
        let asked = request.uri.queryParameters.get("tenant")
        switch context.identity {
        case .admin: return asked
        case .tenant(let own):
            if let asked, asked != own { throw APIError.forbidden("this token reads tenant \(own) only") }
            return own
        }
    }

    /// A time parameter: RFC 3339 or Unix seconds, years 0000 to 9999; anything else is a 400.
    static func time(_ request: Request, _ name: String) throws -> Timestamp? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        switch Timestamp.parseUserInput(text, name: name) {
        case .success(let t): return t
        case .failure(let problem): throw APIError.badRequest(problem.description)
        }
    }

    /// The `from` and `to` parameters, `from` before `to` when both are given.
    static func range(_ request: Request) throws -> (from: Timestamp?, to: Timestamp?) {
        let (from, to) = (try time(request, "from"), try time(request, "to"))
        if let from, let to, from >= to { throw APIError.badRequest("from=\(from) is not before to=\(to)") }
        return (from, to)
    }

    static func window(_ request: Request) throws -> WindowDuration? {
        guard let text = request.uri.queryParameters.get("window") else { return nil }
        switch WindowDuration.parseUserInput(text, name: "window") {
        case .success(let d): return d
        case .failure(let problem): throw APIError.badRequest(problem.description)
        }
    }

    static func json(headers extra: HTTPFields = [:], _ body: (inout JSONWriter) -> Void) -> Response {
        var json = JSONWriter(capacity: 4_096)
        body(&json)
        json.newline()
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    static func step(_ request: Request) throws -> WindowDuration? {
        guard let text = request.uri.queryParameters.get("step") else { return nil }
        switch WindowDuration.parseUserInput(text, name: "step") {
        case .success(let d): return d
        case .failure(let problem): throw APIError.badRequest(problem.description)
        }
    }

    /// What `aggregate`'s `stat=` may name.
    static let statistics = ["count", "sum", "min", "max", "mean", "p50", "p90", "p95", "p99"]

    func aggregate(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let range = try Self.range(request)
        let filter = WindowQuery.Filter(tenant: try Self.tenant(request, context), metric: parameters.get("metric"),
                                        length: try Self.window(request), from: range.from, to: range.to)
        let stat = parameters.get("stat")
        let step = try Self.step(request)
        let settled = try await settle(request)
        if filter.metric == "visits" || filter.metric == "unique_visitors" {
            if let stat { throw APIError.badRequest("stat=\(stat) applies to window records; metric=\(filter.metric!) answers visits_window records") }
            var all = filter
            all.metric = nil
            let query = WindowQuery(state: state)
            let visits = if let step { try await query.visits(all, step: step) } else { try await query.visits(all) }
            return Self.json(headers: settled) { json in
                json.beginArray()
                for v in visits { json.rawElement(Self.encoded(.visitsWindow(v))) }
                json.endArray()
            }
        }
        if let stat, !Self.statistics.contains(stat) { throw APIError.badRequest("stat=\(stat): expected one of \(Self.statistics.joined(separator: ", "))") }
        let query = WindowQuery(state: state)
        let windows = if let step { try await query.windows(filter, step: step) } else { try await query.windows(filter) }
        var json = JSONWriter(capacity: 256 * windows.count + 16)
        json.beginArray()
        for w in windows {
            if let stat {
                json.beginObject()
                json.key("type"); json.string("window")
                json.key("window"); json.string(w.span.length.description)
                json.key("start"); json.timestamp(w.span.start)
                json.key("end"); json.timestamp(w.span.end)
                json.key("tenant_id"); json.string(w.series.tenantID)
                json.key("metric_name"); json.string(w.series.name)
                json.key("labels"); json.labels(w.series.labels)
                json.key(stat); json.number(AnomalyDetector.StateMachine.value(stat, of: w) ?? 0)
                if w.partial { json.key("partial"); json.bool(true) }
                json.endObject()
            } else {
                json.rawElement(Self.encoded(.window(w)))
            }
        }
        json.endArray()
        json.newline()
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: settled)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// One record as its NDJSON object, without the newline.
    static func encoded(_ record: OutputRecord) -> [UInt8] {
        var one = JSONWriter()
        record.write(to: &one)
        return Array(one.bytes.dropLast())
    }

    /// One object per window (or per step): every route merged unless `route` picks one, the
    /// percentiles from the merged sketches.
    func performance(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let tenant = try Self.tenant(request, context)
        let route = request.uri.queryParameters.get("route")
        let range = try Self.range(request)
        let filter = WindowQuery.Filter(tenant: tenant, length: try Self.window(request), from: range.from, to: range.to)
        let names = ["response_time", "db_query_time", "memory_usage"]
        let step = try Self.step(request)
        let settled = try await settle(request)
        let query = WindowQuery(state: state)
        let all = if let step { try await query.windows(filter, step: step) } else { try await query.windows(filter) }
        let windows = all.filter { names.contains($0.series.name) && (route == nil || $0.series.labels["route"] == route) }
        var groups: [WindowSpan: [String: [WindowSummary]]] = [:]
        for w in windows { groups[w.span, default: [:]][w.series.name, default: []].append(w) }
        return Self.json(headers: settled) { json in
            json.beginArray()
            for span in groups.keys.sorted() {
                let byName = groups[span]!.mapValues { WindowSummary.merging($0, span: span, series: SeriesKey(tenantID: tenant, name: $0[0].series.name)) }
                json.beginObject()
                json.key("window"); json.string(span.length.description)
                json.key("start"); json.timestamp(span.start)
                json.key("end"); json.timestamp(span.end)
                json.key("tenant_id"); json.string(tenant)
                json.key("route"); json.string(route)
                for name in ["response_time", "db_query_time"] {
                    json.key(name)
                    if let merged = byName[name] {
                        json.beginObject()
                        json.key("p50"); json.number(merged.p50)
                        json.key("p90"); json.number(merged.p90)
                        json.key("p95"); json.number(merged.p95)
                        json.key("p99"); json.number(merged.p99)
                        json.key("mean"); json.number(merged.mean)
                        json.key("count"); json.integer(merged.count)
                        json.endObject()
                    } else {
                        json.null()
                    }
                }
                json.key("memory_usage")
                if let merged = byName["memory_usage"] {
                    json.beginObject()
                    json.key("mean"); json.number(merged.mean)
                    json.key("max"); json.number(merged.max)
                    json.endObject()
                } else {
                    json.null()
                }
                if byName.values.contains(where: \.partial) { json.key("partial"); json.bool(true) }
                json.endObject()
            }
            json.endArray()
        }
    }

    func anomalies(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let tenant = try Self.tenant(request, context)
        let range = try Self.range(request)
        var found: [Anomaly] = []
        for case .output(.anomaly(let a)) in try await state.storedRecords(StoreQuery(kinds: [.anomaly], tenantID: tenant, from: range.from, to: range.to)) {
            found.append(a)
        }
        return Self.json { json in
            json.beginArray()
            for a in found {
                json.rawElement(Self.encoded(.anomaly(a)))
            }
            json.endArray()
        }
    }

    func tokens(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let tenant = try Self.tenant(request, context)
        let period = request.uri.queryParameters.get("period") ?? "month"
        guard let wanted = UsagePeriod(rawValue: period) else { throw APIError.badRequest("period=\(period): expected day or month") }
        let usage = try await state.tokenUsage(tenantID: tenant).filter { $0.period == wanted }
        let budgets = state.tokenMeter.configuration.budgets
        return Self.json { json in
            json.beginArray()
            for u in usage {
                json.beginObject()
                json.key("tenant_id"); json.string(u.tenantID)
                json.key("model"); json.string(u.model)
                json.key("period"); json.string(u.period.rawValue)
                json.key("start"); json.timestamp(u.start)
                json.key("requests"); json.integer(u.requests)
                json.key("prompt_tokens"); json.integer(u.promptTokens)
                json.key("completion_tokens"); json.integer(u.completionTokens)
                json.key("cached_tokens"); json.integer(u.cachedTokens)
                json.key("total_tokens"); json.integer(u.totalTokens)
                json.key("cost_usd")
                if let cost = u.costMicroUSD { json.decimal(micros: cost) } else { json.null() }
                json.key("priced"); json.bool(u.costMicroUSD != nil)
                if let budget = budgets[u.tenantID], u.period == .month {
                    let tenantTotal = usage.filter { $0.tenantID == u.tenantID }
                    json.key("budget")
                    json.beginObject()
                    if let tokens = budget.monthlyTokens {
                        json.key("monthly_tokens"); json.integer(tokens)
                        json.key("tokens_used_percent"); json.number(Double(tenantTotal.reduce(0) { $0 + $1.totalTokens }) / Double(max(tokens, 1)) * 100)
                    }
                    if let usd = budget.monthlyMicroUSD {
                        json.key("monthly_usd"); json.decimal(micros: usd)
                        json.key("usd_used_percent"); json.number(Double(tenantTotal.reduce(0) { $0 + ($1.costMicroUSD ?? 0) }) / Double(max(usd, 1)) * 100)
                    }
                    json.key("thresholds"); json.beginArray(); for t in budget.thresholds { json.number(t) }; json.endArray()
                    json.endObject()
                }
                json.endObject()
            }
            json.endArray()
        }
    }

    func tenantMetrics(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard context.identity.mayRead(id) else { throw APIError.forbidden("this token reads its own tenant only") }
        guard TenantID.problem(id) == nil else { throw APIError.badRequest("\(id) is not a valid tenant id") }
        let settled = try await settle(request)
        var latest: [SeriesKey: WindowSummary] = [:]
        for w in try await WindowQuery(state: state).windows(.init(tenant: id)) {
            if let seen = latest[w.series], seen.span.end > w.span.end { continue }
            latest[w.series] = w
        }
        var caches: [String: CacheWindowSummary] = [:]
        var visits: VisitsWindowSummary?
        for record in try await state.storedRecords(StoreQuery(kinds: [.cacheWindow, .visitsWindow], tenantID: id), combined: true) {
            switch record {
            case .output(.cacheWindow(let c)): caches[c.cache ?? ""] = c
            case .output(.visitsWindow(let v)): visits = v
            default: break
            }
        }
        // The newest closed windows may not be in the store yet.
        let recent = state.dashboard.snapshot(tenant: id)
        for c in recent.caches.values.compactMap(\.last) where caches[c.cache ?? ""].map({ $0.span.end <= c.span.end }) ?? true {
            caches[c.cache ?? ""] = c
        }
        if let v = recent.visits[id]?.last, visits.map({ $0.span.end <= v.span.end }) ?? true { visits = v }
        let usage = try await state.tokenUsage(tenantID: id).filter { $0.period == .month }
        return Self.json(headers: settled) { json in
            json.beginObject()
            json.key("tenant_id"); json.string(id)
            json.key("series")
            json.beginArray()
            for key in latest.keys.sorted() {
                json.rawElement(Self.encoded(.window(latest[key]!)))
            }
            json.endArray()
            json.key("caches")
            json.beginArray()
            for name in caches.keys.sorted() {
                json.rawElement(Self.encoded(.cacheWindow(caches[name]!)))
            }
            json.endArray()
            json.key("visits")
            if let visits {
                json.rawElement(Self.encoded(.visitsWindow(visits)))
            } else {
                json.null()
            }
            json.key("tokens_this_month")
            json.beginArray()
            for u in usage {
                json.rawElement(Self.encoded(.tokenUsage(u)))
            }
            json.endArray()
            json.endObject()
        }
    }
}

extension JSONWriter {
    /// Writes an already-encoded JSON value as the next element.
    mutating func rawElement(_ bytes: [UInt8]) {
        if needsCommaForRaw { self.bytes.append(UInt8(ascii: ",")) }
        self.bytes.append(contentsOf: bytes)
        markValueWritten()
    }
}
