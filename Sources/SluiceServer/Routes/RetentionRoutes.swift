import Hummingbird
import SluiceConfig
import SluiceModel
import SluiceStore

/// `GET/PUT /api/v2/analytics/retention` and `POST …/retention/apply`.
///
/// A PUT takes the `retention:` section as JSON (the same keys as the YAML), validates it with
/// the configuration loader, and keeps it in `DIR/retention.json`, which `serve` reads at start.
struct RetentionRoutes: Sendable {
    let state: ServerState

    static let fileName = "retention.json"

    /// The policy saved by a PUT, if any (read at start-up).
    static func saved(in directory: DataDirectory) throws -> Configuration.Retention? {
        guard let bytes = try directory.readFile(fileName) else { return nil }
        // JSON is YAML: the loader validates it with the same rules as the config file.
        do {
            return try Configuration.parse(yaml: "retention: " + String(decoding: bytes, as: UTF8.self)).retention
        } catch {
            throw ServerError("\(directory.path)/\(fileName): \(error); correct the file, or remove it to use the configuration's retention")
        }
    }

    /// The policy as one viewer may see it: all of it for an admin; for a tenant, the global
    /// max ages with its own overrides applied, and no other tenant's.
    static func policy(_ r: Configuration.Retention, seenBy identity: Identity) -> Configuration.Retention {
        guard case .tenant(let tenant) = identity else { return r }
        var own = r
        own.maxAge.merge(r.tenants[tenant] ?? [:]) { $1 }
        own.tenants = [:]
        return own
    }

    static func render(_ r: Configuration.Retention, tenant: String? = nil) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        if let tenant { json.key("tenant_id"); json.string(tenant) }
        json.key("max_age")
        json.beginObject()
        for (type, age) in r.maxAge.sorted(by: { $0.key < $1.key }) { json.key(type); json.string(age.humanDescription) }
        json.endObject()
        if tenant == nil {
            json.key("tenants")
            json.beginObject()
            for (tenant, ages) in r.tenants.sorted(by: { $0.key < $1.key }) {
                json.key(tenant)
                json.beginObject()
                json.key("max_age")
                json.beginObject()
                for (type, age) in ages.sorted(by: { $0.key < $1.key }) { json.key(type); json.string(age.humanDescription) }
                json.endObject()
                json.endObject()
            }
            json.endObject()
        }
        json.key("max_bytes"); json.integer(r.maxBytes)
        json.key("interval"); json.string(r.interval.humanDescription)
        json.key("allow_mass_delete"); json.bool(r.allowMassDelete)
        json.key("tiers")
        json.beginObject()
        for tier in r.tiers { json.key(tier.step.humanDescription); json.string(tier.maxAge.humanDescription) }
        json.endObject()
        json.endObject()
        json.newline()
        return json.bytes
    }

    func get(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let tenant: String? = if case .tenant(let own) = context.identity { own } else { nil }
        let policy = Self.policy(state.retentionPolicy, seenBy: context.identity)
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: Self.render(policy, tenant: tenant))))
    }

    func put(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        guard context.identity == .admin else { throw APIError.forbidden("only an admin token may change retention") }
        guard let directory = state.directory else { throw APIError(.conflict, "no_store", "this server runs without a data directory") }
        let body = try await request.body.collect(upTo: 1 << 20)
        let text = String(decoding: body.readableBytesView, as: UTF8.self)
        guard text.trimmingWhitespace().hasPrefix("{") else { throw APIError.badRequest("expected a JSON object with max_age, tenants, max_bytes, interval, allow_mass_delete") }
        let policy: Configuration.Retention
        do {
            policy = try Configuration.parse(yaml: "retention: " + text).retention
        } catch {
            throw APIError.badRequest("\(error)")
        }
        let confirmed = try Self.flag("confirm", request)
        // A policy that would delete more than half the store at once is a mistake more often
        // than not: it takes ?confirm=true, even when it also turns allow_mass_delete on.
        var planned = RetentionPolicy(policy)
        planned.allowMassDelete = false
        let plan = RetentionPruner(directory: directory, policy: planned, segmentBytes: state.segmentBytes)
        let now = Timestamp.now()
        let report = try await BlockingWork.run { () throws(StoreError) in try plan.prune(now: now, dryRun: true) }
        if let refusal = report.refusal, !confirmed {
            throw APIError(.conflict, "mass_delete", "under this policy \(refusal); nothing was changed. To go ahead, PUT it again with ?confirm=true: it is saved and the prune runs at once")
        }
        let bytes = Self.render(policy)
        try await BlockingWork.run { () throws(StoreError) in try directory.writeFile(Self.fileName, bytes) }
        state.setRetention(policy)
        if report.refusal != nil, let pruner = state.pruner {
            // Confirmed: what the confirmation was for happens now, not at the next periodic
            // run (which would refuse it again).
            let done = try await BlockingWork.run { () throws(StoreError) in try pruner.prune(now: now, confirmed: true) }
            state.metrics.pruned(done)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func apply(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        guard context.identity == .admin else { throw APIError.forbidden("only an admin token may apply retention") }
        guard let pruner = state.pruner else { throw APIError(.conflict, "no_store", "this server runs without a data directory") }
        let dryRun = try Self.flag("dry_run", request)
        let confirmed = try Self.flag("confirm", request)
        let now = Timestamp.now()
        // Planning reads every sealed segment's summaries; applying rewrites segments.
        let report = try await BlockingWork.run { () throws(StoreError) in try pruner.prune(now: now, dryRun: dryRun, confirmed: confirmed) }
        if !dryRun { state.metrics.pruned(report) }
        if let refusal = report.refusal, !dryRun {
            throw APIError(.conflict, "mass_delete", "\(refusal); nothing was removed. See what would go with ?dry_run=true; to go ahead, POST /api/v2/analytics/retention/apply?confirm=true, or set retention.allow_mass_delete: true")
        }
        return QueryRoutes.json { json in Self.write(report, to: &json) }
    }

    /// A true/false query parameter, false when absent; anything else is refused, since a
    /// misread `dry_run` would delete data.
    static func flag(_ name: String, _ request: Request) throws -> Bool {
        let values = request.uri.queryParameters.getAll(name)
        guard values.count <= 1 else { throw APIError.badRequest("\(name) is given \(values.count) times; give it once, true or false") }
        switch values.first {
        case nil, "false": return false
        case "true": return true
        case let value?: throw APIError.badRequest("\(name)=\(value): expected true or false")
        }
    }

    static func write(_ report: RetentionPruner.Report, to json: inout JSONWriter) {
        json.beginObject()
        json.key("dry_run"); json.bool(report.dryRun)
        json.key("removed")
        json.beginArray()
        for (key, value) in report.removed.sorted(by: { $0.key < $1.key }) {
            json.beginObject()
            json.key("type"); json.string(key.type)
            json.key("tenant_id"); json.string(key.tenantID)
            json.key("reason"); json.string(key.reason)
            json.key("records"); json.integer(value.records)
            json.key("bytes"); json.integer(value.bytes)
            json.endObject()
        }
        json.endArray()
        json.key("removed_records"); json.integer(report.removedRecords)
        json.key("bytes_before"); json.integer(report.bytesBefore)
        json.key("bytes_after"); json.integer(report.bytesAfter)
        json.key("needs_confirmation"); json.bool(report.refusal != nil)
        json.endObject()
    }
}
