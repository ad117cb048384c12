import Hummingbird
import SluiceModel

/// What series exist: `series`, `labels`, `label/<name>/values`, `metadata`, and which API
/// this is (`status/buildinfo`).
extension PromRoutes {
    /// The label sets the request asks about: its `match[]` selectors (all series without
    /// one), between `start` and `end` (both optional), for its token.
    private func labelSets(_ parameters: PromParameters, _ context: SluiceRequestContext, requireMatch: Bool) async throws -> [Labels] {
        let selectors = try parameters.matchers()
        if requireMatch, selectors.isEmpty { throw APIError.badData("no match[] parameter provided") }
        let (start, end) = (try parameters.time("start"), try parameters.time("end"))
        if let start, let end, end < start { throw APIError.badData("invalid parameter \"end\": end timestamp must not be before start time") }
        let interval = PromSeriesSource.Interval(after: start.map { $0 - 1 }, through: end)
        return try await source.labelSets(matching: selectors, in: interval, tenant: Self.tenant(context)).sorted()
    }

    /// At most `limit` items, and a warning when some were left out.
    private static func limited<T>(_ items: [T], _ limit: Int?) -> ([T], [String]) {
        guard let limit, items.count > limit else { return (items, []) }
        return (Array(items.prefix(limit)), ["results truncated due to limit"])
    }

    @Sendable func series(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let parameters = try await PromParameters(request, maxBodyBytes: maxBodyBytes)
        let (sets, warnings) = Self.limited(try await labelSets(parameters, context, requireMatch: true), try parameters.limit())
        return PromResponse.success(warnings: warnings) { json in
            json.beginArray()
            for labels in sets { PromResponse.write(labels, to: &json) }
            json.endArray()
        }
    }

    @Sendable func labels(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let parameters = try await PromParameters(request, maxBodyBytes: maxBodyBytes)
        let names = Set(try await labelSets(parameters, context, requireMatch: false).flatMap { $0.map(\.key) }).sorted()
        let (out, warnings) = Self.limited(names, try parameters.limit())
        return PromResponse.success(warnings: warnings) { json in
            json.beginArray(); for n in out { json.string(n) }; json.endArray()
        }
    }

    @Sendable func labelValues(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let parameters = try await PromParameters(request, maxBodyBytes: maxBodyBytes)
        let values = Set(try await labelSets(parameters, context, requireMatch: false).compactMap { $0[name] }).sorted()
        let (out, warnings) = Self.limited(values, try parameters.limit())
        return PromResponse.success(warnings: warnings) { json in
            json.beginArray(); for v in out { json.string(v) }; json.endArray()
        }
    }

    /// What each metric name is; Sluice's raw metrics carry no type (`unknown`), window
    /// statistics and cache and visits series are gauges.
    @Sendable func metadata(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let parameters = try await PromParameters(request, maxBodyBytes: maxBodyBytes)
        let selector = try parameters["metric"].map { name throws(APIError) in PromQL.Selector(matchers: [PromQL.Matcher(name: "__name__", op: .equal, value: name)]) }
        let sets = try await source.labelSets(matching: selector.map { [$0] } ?? [], in: .init(), tenant: Self.tenant(context))
        let (names, warnings) = Self.limited(Set(sets.compactMap { $0["__name__"] }).sorted(), try parameters.limit())
        return PromResponse.success(warnings: warnings) { json in
            json.beginObject()
            for name in names {
                let (type, help) = Self.describe(name)
                json.key(name)
                json.beginArray(); json.beginObject()
                json.key("type"); json.string(type)
                json.key("help"); json.string(help)
                json.key("unit"); json.string("")
                json.endObject(); json.endArray()
            }
            json.endObject()
        }
    }

    /// The type and help text of a series name.
    static func describe(_ name: String) -> (String, String) {
        if let base = PromSeriesSource.windowBase(name) {
            let stat = name[name.index(after: name.lastIndex(of: ":")!)...]
            return ("gauge", "The \(stat) of \(base) in each window (label window), at the window's end.")
        }
        switch name {
        case "cache_hits": return ("gauge", "Cache hits in each window, at the window's end.")
        case "cache_misses": return ("gauge", "Cache misses in each window, at the window's end.")
        case "cache_hit_ratio": return ("gauge", "hits / (hits + misses) in each window, at the window's end.")
        case "cache_size_kb": return ("gauge", "The cache size last reported in each window, in KB, at the window's end.")
        case "visits": return ("gauge", "Visits in each window, at the window's end.")
        case "unique_visitors": return ("gauge", "Unique visitors in each window (HyperLogLog estimate), at the window's end.")
        default: return ("unknown", "Raw metric samples as ingested.")
        }
    }

    /// Which API this is: Prometheus' HTTP API, answered by Sluice.
    func buildInfo() -> Response {
        PromResponse.success { json in
            json.beginObject()
            json.key("application"); json.string("Sluice")
            json.key("version"); json.string("2.45.0")
            json.key("revision"); json.string("")
            json.key("branch"); json.string("")
            json.key("buildUser"); json.string("")
            json.key("buildDate"); json.string("")
            json.key("goVersion"); json.string("")
            json.endObject()
        }
    }
}
