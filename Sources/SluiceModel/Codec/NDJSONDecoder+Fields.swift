/// One slot per known field, filled while scanning and read once the record type is known.
///
/// Stored properties rather than an array: a line is decoded without a heap allocation for
/// its bookkeeping. Only plain values (tokens into the line): the `labels` object, the one
/// field parsed as it is scanned, is held beside the slots, so reading the slots never copies
/// or counts a reference.
struct FieldSlots {
    var type = RawValue.absent, timestamp = RawValue.absent, tenantID = RawValue.absent, labels = RawValue.absent
    var metricName = RawValue.absent, value = RawValue.absent
    var hits = RawValue.absent, misses = RawValue.absent, sizeKB = RawValue.absent, cache = RawValue.absent
    var responseTime = RawValue.absent, dbQueryTime = RawValue.absent, memoryUsage = RawValue.absent, route = RawValue.absent
    var model = RawValue.absent, promptTokens = RawValue.absent, completionTokens = RawValue.absent
    var cachedTokens = RawValue.absent, requestID = RawValue.absent
    var visitorID = RawValue.absent, path = RawValue.absent

    subscript(field: Field) -> RawValue {
        get {
            switch field {
            case .type: type
            case .timestamp: timestamp
            case .tenantID: tenantID
            case .labels: labels
            case .metricName: metricName
            case .value: value
            case .hits: hits
            case .misses: misses
            case .sizeKB: sizeKB
            case .cache: cache
            case .responseTime: responseTime
            case .dbQueryTime: dbQueryTime
            case .memoryUsage: memoryUsage
            case .route: route
            case .model: model
            case .promptTokens: promptTokens
            case .completionTokens: completionTokens
            case .cachedTokens: cachedTokens
            case .requestID: requestID
            case .visitorID: visitorID
            case .path: path
            }
        }
        set {
            switch field {
            case .type: type = newValue
            case .timestamp: timestamp = newValue
            case .tenantID: tenantID = newValue
            case .labels: labels = newValue
            case .metricName: metricName = newValue
            case .value: value = newValue
            case .hits: hits = newValue
            case .misses: misses = newValue
            case .sizeKB: sizeKB = newValue
            case .cache: cache = newValue
            case .responseTime: responseTime = newValue
            case .dbQueryTime: dbQueryTime = newValue
            case .memoryUsage: memoryUsage = newValue
            case .route: route = newValue
            case .model: model = newValue
            case .promptTokens: promptTokens = newValue
            case .completionTokens: completionTokens = newValue
            case .cachedTokens: cachedTokens = newValue
            case .requestID: requestID = newValue
            case .visitorID: visitorID = newValue
            case .path: path = newValue
            }
        }
    }

    /// Scans the value of `field` at the scanner's position into its slot; a `labels` object
    /// into `parsedLabels`.
    mutating func read(
        _ field: Field, from scanner: inout JSONScanner, configuration: NDJSONDecoder.Configuration, intern: inout InternTable,
        parsedLabels: inout Labels?
    ) throws(DecodeError) {
        guard let b = scanner.peek() else { throw scanner.syntaxError("expected a value") }
        let value: RawValue
        switch b {
        case UInt8(ascii: "\""):
            value = .string(try scanner.scanString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            value = .number(try scanner.scanNumber())
        case UInt8(ascii: "n"):
            try scanner.literal("null")
            value = .null
        case UInt8(ascii: "{") where field == .labels:
            parsedLabels = try Self.readLabels(&scanner, maximum: configuration.maximumLabels, intern: &intern)
            value = .labels
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            try scanner.skipValue(depth: 1)
            value = .other
        case UInt8(ascii: "["):
            try scanner.skipValue(depth: 1)
            value = .other
        case UInt8(ascii: "{"):
            try scanner.skipValue(depth: 1)
            value = .other
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw scanner.nonFinite()
        default:
            throw scanner.syntaxError("expected a value")
        }
        self[field] = value
    }
}

extension FieldSlots {
    /// Builds the record once every field is scanned.
    ///
    /// Not `mutating`: each call from a mutating method to the non-mutating readers below would
    /// copy all the field slots (half a kilobyte) first, ten times a record.
    func record(
        scanner: JSONScanner, parsedLabels: Labels?, configuration: NDJSONDecoder.Configuration, ingestTime: Timestamp?,
        intern: inout InternTable
    ) throws(DecodeError) -> Record {
        let kind = try recordKind(scanner, default: configuration.defaultKind)
        let timestamp = try eventTime(scanner, ingestTime: ingestTime)
        // No `??`: its autoclosure would copy the whole configuration for every record.
        var tenant = try optionalString(.tenantID, scanner, &intern)
        if tenant == nil { tenant = configuration.defaultTenantID }
        if let tenant, let problem = TenantID.problem(tenant.utf8) {
            throw DecodeError(.badTenant, problem)
        }
        var labels: Labels
        switch self.labels {
        case .absent, .null: labels = .empty
        case .labels: labels = parsedLabels ?? .empty
        case .string, .number, .other: throw .wrongType("labels", "an object of strings")
        }
        switch kind {
        case .metric:
            let name = try requiredString(.metricName, scanner, &intern)
            guard !name.isEmpty else { throw DecodeError(.missingField, "field \"metric_name\" is empty") }
            let value = try requiredDouble(.value, scanner)
            return .metric(MetricRecord(timestamp: timestamp, tenantID: tenant, labels: labels, name: name, value: value))

        case .cache:
            let hits = try requiredUnsigned(.hits, scanner)
            let misses = try requiredUnsigned(.misses, scanner)
            let size = try requiredUnsigned(.sizeKB, scanner)
            let cache = try optionalString(.cache, scanner, &intern)
            return .cache(CacheRecord(
                timestamp: timestamp, tenantID: tenant, labels: labels, cache: cache,
                hits: hits, misses: misses, sizeKB: size
            ))

        case .performance:
            let response = try optionalDouble(.responseTime, scanner)
            let query = try optionalDouble(.dbQueryTime, scanner)
            let memory = try optionalDouble(.memoryUsage, scanner)
            guard response != nil || query != nil || memory != nil else {
                throw DecodeError(.missingField, "a performance record needs at least one of \"response_time\", \"db_query_time\", \"memory_usage\"")
            }
            if let route = try optionalString(.route, scanner, &intern) {
                if labels.count >= configuration.maximumLabels, labels["route"] == nil {
                    throw DecodeError(.tooManyLabels, "more than \(configuration.maximumLabels) labels with \"route\"")
                }
                labels = labels.setting("route", to: route)
            }
            return .performance(PerformanceRecord(
                timestamp: timestamp, tenantID: tenant, labels: labels,
                responseTime: response, dbQueryTime: query, memoryUsage: memory
            ))

        case .tokenUsage:
            guard let tenant else { throw DecodeError(.missingField, "a token_usage record needs \"tenant_id\"") }
            let model = try requiredString(.model, scanner, &intern)
            guard !model.isEmpty else { throw DecodeError(.missingField, "field \"model\" is empty") }
            let requestID = try requiredString(.requestID, scanner, &intern)
            guard !requestID.isEmpty else { throw DecodeError(.missingField, "field \"request_id\" is empty") }
            let prompt = try requiredUnsigned(.promptTokens, scanner)
            let completion = try requiredUnsigned(.completionTokens, scanner)
            let cached = try optionalUnsigned(.cachedTokens, scanner) ?? 0
            guard cached <= prompt else {
                throw DecodeError(.outOfRange, "field \"cached_tokens\" (\(cached)) exceeds \"prompt_tokens\" (\(prompt))")
            }
            return .tokenUsage(TokenUsageRecord(
                timestamp: timestamp, tenantID: tenant, labels: labels, model: model,
                promptTokens: prompt, completionTokens: completion, cachedTokens: cached, requestID: requestID
            ))

        case .visit:
            let visitor = try requiredString(.visitorID, scanner, &intern)
            guard !visitor.isEmpty else { throw DecodeError(.missingField, "field \"visitor_id\" is empty") }
            let path = try optionalString(.path, scanner, &intern)
            return .visit(VisitRecord(timestamp: timestamp, tenantID: tenant, labels: labels, visitorID: visitor, path: path))
        }
    }

    private func recordKind(_ scanner: JSONScanner, default defaultKind: RecordKind) throws(DecodeError) -> RecordKind {
        switch type {
        case .absent, .null:
            return defaultKind
        case .string(let token):
            // `token(_:equals:)` compares unescaped text: `"\u0074oken_usage"` is `token_usage`.
            if scanner.token(token, equals: "metric") { return .metric }
            if scanner.token(token, equals: "cache") { return .cache }
            if scanner.token(token, equals: "performance") { return .performance }
            if scanner.token(token, equals: "token_usage") { return .tokenUsage }
            if scanner.token(token, equals: "visit") { return .visit }
            let text = scanner.string(token)
            throw DecodeError(.unknownType, "unknown type \"\(text)\" (expected metric, cache, performance, token_usage or visit)")
        default:
            throw .wrongType("type", "a string")
        }
    }

    private func eventTime(_ scanner: JSONScanner, ingestTime: Timestamp?) throws(DecodeError) -> Timestamp {
        switch timestamp {
        case .absent, .null:
            guard let ingestTime else {
                throw DecodeError(.missingTimestamp, "missing field \"timestamp\" (replay needs the event time of every record)")
            }
            return ingestTime
        case .string(let token):
            // Parsed where it lies: no `String` is made for a timestamp unless it has escapes
            // or is refused.
            let parsed: Result<Timestamp, RFC3339.ParseError>
            if token.hasEscapes {
                var text = scanner.string(token)
                parsed = text.withUTF8 { RFC3339.parse($0) }
            } else {
                parsed = RFC3339.parse(UnsafeBufferPointer(rebasing: scanner.bytes[token.start..<token.end]))
            }
            switch parsed {
            case .success(let t): return t
            case .failure(let problem): throw DecodeError(.badTimestamp, "timestamp \"\(scanner.string(token))\" \(problem)")
            }
        case .number(let token):
            guard let micros = NumberParsing.unixMicroseconds(scanner.numberBytes(token)),
                  micros >= 0, micros <= 253_402_300_799_999_999
            else {
                throw DecodeError(.badTimestamp, "timestamp \(String(decoding: scanner.numberBytes(token), as: UTF8.self)) is out of range (Unix seconds from 1970 to 9999)")
            }
            return Timestamp(microseconds: micros)
        default:
            throw DecodeError(.badTimestamp, "timestamp must be an RFC 3339 string or Unix seconds")
        }
    }

    private func requiredString(_ field: Field, _ scanner: JSONScanner, _ intern: inout InternTable) throws(DecodeError) -> String {
        guard let s = try optionalString(field, scanner, &intern) else { throw .missing(field.label) }
        return s
    }

    private func optionalString(_ field: Field, _ scanner: JSONScanner, _ intern: inout InternTable) throws(DecodeError) -> String? {
        switch self[field] {
        case .absent, .null: return nil
        case .string(let token): return scanner.string(token, intern: &intern)
        default: throw .wrongType(field.label, "a string")
        }
    }

    private func requiredDouble(_ field: Field, _ scanner: JSONScanner) throws(DecodeError) -> Double {
        guard let d = try optionalDouble(field, scanner) else { throw .missing(field.label) }
        return d
    }

    private func optionalDouble(_ field: Field, _ scanner: JSONScanner) throws(DecodeError) -> Double? {
        switch self[field] {
        case .absent, .null: return nil
        case .number(let token):
            let d = NumberParsing.double(scanner.numberBytes(token))
            guard d.isFinite else { throw DecodeError(.nonFinite, "field \"\(field.label)\" is too large to be a finite number") }
            return d
        default: throw .wrongType(field.label, "a number")
        }
    }

    private func requiredUnsigned(_ field: Field, _ scanner: JSONScanner) throws(DecodeError) -> UInt64 {
        guard let u = try optionalUnsigned(field, scanner) else { throw .missing(field.label) }
        return u
    }

    private func optionalUnsigned(_ field: Field, _ scanner: JSONScanner) throws(DecodeError) -> UInt64? {
        switch self[field] {
        case .absent, .null: return nil
        case .number(let token):
            guard token.isInteger else { throw .wrongType(field.label, "an integer (no fraction or exponent)") }
            guard let u = NumberParsing.unsigned(scanner.numberBytes(token)) else {
                throw DecodeError(.outOfRange, "field \"\(field.label)\" must be a non-negative integer below 2^64")
            }
            return u
        default: throw .wrongType(field.label, "a non-negative integer")
        }
    }
}
