extension Record {
    /// Appends the record as an input line (design §2), timestamp normalised to RFC 3339 UTC:
    /// decoding the line gives back an equal record.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("type")
        json.string(kind.rawValue)
        json.key("timestamp")
        json.timestamp(timestamp)
        if let tenant = tenantID {
            json.key("tenant_id")
            json.string(tenant)
        }
        let labels: Labels
        switch self {
        case .metric(let m): labels = m.labels
        case .cache(let c): labels = c.labels
        case .performance(let p): labels = p.labels
        case .tokenUsage(let t): labels = t.labels
        case .visit(let v): labels = v.labels
        }
        if !labels.isEmpty {
            json.key("labels")
            json.labels(labels)
        }
        switch self {
        case .metric(let m):
            json.key("metric_name"); json.string(m.name)
            json.key("value"); json.number(m.value)
        case .cache(let c):
            if let cache = c.cache { json.key("cache"); json.string(cache) }
            json.key("hits"); json.integer(c.hits)
            json.key("misses"); json.integer(c.misses)
            json.key("size_kb"); json.integer(c.sizeKB)
        case .performance(let p):
            if let route = p.labels["route"] { json.key("route"); json.string(route) }
            if let v = p.responseTime { json.key("response_time"); json.number(v) }
            if let v = p.dbQueryTime { json.key("db_query_time"); json.number(v) }
            if let v = p.memoryUsage { json.key("memory_usage"); json.number(v) }
        case .tokenUsage(let t):
            json.key("model"); json.string(t.model)
            json.key("prompt_tokens"); json.integer(t.promptTokens)
            json.key("completion_tokens"); json.integer(t.completionTokens)
            json.key("cached_tokens"); json.integer(t.cachedTokens)
            json.key("request_id"); json.string(t.requestID)
        case .visit(let v):
            json.key("visitor_id"); json.string(v.visitorID)
            if let path = v.path { json.key("path"); json.string(path) }
        }
        json.endObject()
        json.newline()
    }

    public var ndjson: String {
        var json = JSONWriter()
        write(to: &json)
        return String(decoding: json.bytes, as: UTF8.self)
    }
}
