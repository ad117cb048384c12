extension OutputRecord {
    /// Appends the record as one NDJSON line (design §3's field names and order).
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("type")
        json.string(typeName)
        switch self {
        case .window(let w): w.writeFields(to: &json)
        case .cacheWindow(let w): w.writeFields(to: &json)
        case .visitsWindow(let w): w.writeFields(to: &json)
        case .anomaly(let a): a.writeFields(to: &json)
        case .tokenUsage(let t): t.writeFields(to: &json)
        case .budgetAlert(let b): b.writeFields(to: &json)
        case .budgetForecast(let f): f.writeFields(to: &json)
        case .summary(let s): s.writeFields(to: &json)
        }
        json.endObject()
        json.newline()
    }

    /// The record as one NDJSON line, newline included.
    public var ndjson: String {
        var json = JSONWriter()
        write(to: &json)
        return String(decoding: json.bytes, as: UTF8.self)
    }
}

extension WindowSpan {
    func writeFields(to json: inout JSONWriter) {
        json.key("window")
        json.string(length.description)
        json.key("start")
        json.timestamp(start)
        json.key("end")
        json.timestamp(end)
    }
}

extension WindowSummary {
    func writeFields(to json: inout JSONWriter) {
        span.writeFields(to: &json)
        json.key("tenant_id")
        json.string(series.tenantID)
        json.key("metric_name")
        json.string(series.name)
        json.key("labels")
        json.labels(series.labels)
        json.key("count")
        json.integer(count)
        json.key("sum")
        json.number(sum)
        json.key("min")
        json.number(min)
        json.key("max")
        json.number(max)
        json.key("mean")
        json.number(mean)
        json.key("p50")
        json.number(p50)
        json.key("p90")
        json.number(p90)
        json.key("p95")
        json.number(p95)
        json.key("p99")
        json.number(p99)
        if partial {
            json.key("partial")
            json.bool(true)
        }
    }
}

extension CacheWindowSummary {
    func writeFields(to json: inout JSONWriter) {
        span.writeFields(to: &json)
        json.key("tenant_id")
        json.string(tenantID)
        json.key("cache")
        json.string(cache)
        json.key("labels")
        json.labels(labels)
        json.key("hits")
        json.integer(hits)
        json.key("misses")
        json.integer(misses)
        json.key("hit_ratio")
        json.number(hitRatio)
        json.key("size_kb")
        json.integer(sizeKB)
    }
}

extension VisitsWindowSummary {
    func writeFields(to json: inout JSONWriter) {
        span.writeFields(to: &json)
        json.key("tenant_id")
        json.string(tenantID)
        json.key("visits")
        json.integer(visits)
        json.key("unique_visitors")
        json.integer(uniqueVisitors)
    }
}

extension Anomaly {
    func writeFields(to json: inout JSONWriter) {
        json.key("timestamp")
        json.timestamp(timestamp)
        json.key("tenant_id")
        json.string(series.tenantID)
        json.key("metric_name")
        json.string(series.name)
        json.key("labels")
        json.labels(series.labels)
        if let window {
            json.key("window")
            json.string(window.description)
        }
        json.key("statistic")
        json.string(statistic)
        json.key("value")
        json.number(value)
        json.key("expected")
        json.number(expected)
        json.key("score")
        json.number(score)
        json.key("reason")
        json.string(reason)
    }
}

extension TokenUsageSummary {
    func writeFields(to json: inout JSONWriter) {
        json.key("period")
        json.string(period.rawValue)
        json.key("start")
        json.timestamp(start)
        json.key("tenant_id")
        json.string(tenantID)
        json.key("model")
        json.string(model)
        json.key("requests")
        json.integer(requests)
        json.key("prompt_tokens")
        json.integer(promptTokens)
        json.key("completion_tokens")
        json.integer(completionTokens)
        json.key("cached_tokens")
        json.integer(cachedTokens)
        json.key("total_tokens")
        json.integer(totalTokens)
        json.key("cost_usd")
        if let costMicroUSD { json.decimal(micros: costMicroUSD) } else { json.null() }
    }
}

extension JSONWriter {
    /// The fields `budget_alert` and `budget_forecast` open with, in the output contract's order.
    fileprivate mutating func budgetHead(timestamp: Timestamp, tenantID: String, period: UsagePeriod, start: Timestamp, threshold: Double) {
        key("timestamp")
        self.timestamp(timestamp)
        key("tenant_id")
        string(tenantID)
        key("period")
        string(period.rawValue)
        key("start")
        self.timestamp(start)
        key("threshold")
        number(threshold)
    }
}

extension BudgetAlert {
    func writeFields(to json: inout JSONWriter) {
        json.budgetHead(timestamp: timestamp, tenantID: tenantID, period: period, start: start, threshold: threshold)
        if let budgetTokens {
            json.key("budget_tokens")
            json.integer(budgetTokens)
            json.key("used_tokens")
            json.integer(usedTokens ?? 0)
        }
        if let budgetMicroUSD {
            json.key("budget_usd")
            json.decimal(micros: budgetMicroUSD)
            json.key("used_usd")
            json.decimal(micros: usedMicroUSD ?? 0)
        }
        json.key("request_id")
        json.string(requestID)
    }
}

extension BudgetForecast {
    func writeFields(to json: inout JSONWriter) {
        json.budgetHead(timestamp: timestamp, tenantID: tenantID, period: period, start: start, threshold: threshold)
        switch kind {
        case .tokens:
            json.key("budget_tokens")
            json.integer(limit)
            json.key("used_tokens")
            json.integer(used)
            json.key("tokens_per_hour")
        case .usd:
            json.key("budget_usd")
            json.decimal(micros: limit)
            json.key("used_usd")
            json.decimal(micros: used)
            json.key("usd_per_hour")
        }
        json.decimal(micros: rateMicrosPerHour)
        json.key("measured_from")
        json.timestamp(measuredFrom)
        json.key("measured_to")
        json.timestamp(measuredTo)
        json.key("reached_at")
        json.timestamp(reachedAt)
        if let requestID {
            json.key("request_id")
            json.string(requestID)
        }
    }
}

extension RunSummary {
    func writeFields(to json: inout JSONWriter) {
        json.key("records")
        json.integer(records)
        json.key("errors")
        json.integer(errors)
        json.key("late")
        json.integer(late)
        json.key("records_by_type")
        json.beginObject()
        for kind in RecordKind.allCases.sorted(by: { $0.rawValue < $1.rawValue }) {
            if let n = recordsByType[kind] {
                json.key(kind.rawValue)
                json.integer(n)
            }
        }
        json.endObject()
        json.key("errors_by_reason")
        json.beginObject()
        for (reason, n) in errorsByReason.sorted(by: { $0.key < $1.key }) {
            json.key(reason.rawValue)
            json.integer(n)
        }
        json.endObject()
        json.key("late_by_window")
        json.beginObject()
        for (length, n) in lateByWindow.sorted(by: { $0.key < $1.key }) {
            json.key(length.description)
            json.integer(n)
        }
        json.endObject()
        json.key("emitted")
        json.beginObject()
        for (type, n) in emitted.sorted(by: { $0.key < $1.key }) {
            json.key(type)
            json.integer(n)
        }
        json.endObject()
        for (name, n) in counters.sorted(by: { $0.key < $1.key }) {
            json.key(name)
            json.integer(n)
        }
    }
}
