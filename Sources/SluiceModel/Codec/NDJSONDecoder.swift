/// Decodes one NDJSON line into a `Record` (design §2), or says why it cannot.
///
/// A single pass over the bytes fills a slot per known field; fields it does not know are
/// validated and skipped, so producers can add fields without breaking older readers.
public struct NDJSONDecoder: Sendable {
    /// Limits and defaults, documented in `Config/sluice.yml`.
    public struct Configuration: Sendable, Hashable {
        /// Longest accepted line in bytes, not counting the newline.
        public var maximumLineBytes: Int = 1 << 20
        /// Most labels one record may carry.
        public var maximumLabels: Int = 30
        /// The `type` of a record that has none.
        public var defaultKind: RecordKind = .metric
        /// The tenant of a record that names none (an HTTP request's token's tenant).
        public var defaultTenantID: String?

        public init() {}
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// Decodes `line` (without its newline). `ingestTime` stands in for a missing `timestamp`;
    /// when it is `nil` (replay), a missing timestamp is an error.
    public func decode(_ line: UnsafeBufferPointer<UInt8>, ingestTime: Timestamp?) -> Result<Record, DecodeError> {
        var none = InternTable.none
        return decode(line, ingestTime: ingestTime, interning: &none)
    }

    /// Decodes `line`, taking strings and label sets seen before from `table` rather than
    /// making them again (and adding new ones to it).
    public func decode(_ line: UnsafeBufferPointer<UInt8>, ingestTime: Timestamp?, interning table: inout InternTable) -> Result<Record, DecodeError> {
        do throws(DecodeError) {
            return .success(try decodeOrThrow(line, ingestTime: ingestTime, intern: &table))
        } catch {
            return .failure(error)
        }
    }

    /// Decodes a line held in an array (tests, HTTP bodies).
    public func decode(_ line: [UInt8], ingestTime: Timestamp?) -> Result<Record, DecodeError> {
        line.withUnsafeBufferPointer { decode($0, ingestTime: ingestTime) }
    }

    /// Decodes a line held in a string.
    public func decode(_ line: String, ingestTime: Timestamp?) -> Result<Record, DecodeError> {
        decode(Array(line.utf8), ingestTime: ingestTime)
    }

    /// `decode(_:ingestTime:interning:)` with the error thrown, for the ingest hot path.
    public func decodeOrThrow(_ line: UnsafeBufferPointer<UInt8>, ingestTime: Timestamp?, intern: inout InternTable) throws(DecodeError) -> Record {
        guard line.count <= configuration.maximumLineBytes else {
            throw DecodeError(.lineTooLong, "line is \(line.count) bytes, longer than the limit of \(configuration.maximumLineBytes)")
        }
        var scanner = JSONScanner(line)
        var fields = FieldSlots()
        var parsedLabels: Labels?
        scanner.skipWhitespace()
        guard let first = scanner.peek() else { throw DecodeError(.invalidJSON, "invalid JSON: empty line") }
        guard first == UInt8(ascii: "{") else {
            if first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") || first == UInt8(ascii: "-")
                || (first >= 0x30 && first <= 0x39) || first == UInt8(ascii: "t") || first == UInt8(ascii: "f")
                || first == UInt8(ascii: "n") {
                var probe = scanner
                if (try? probe.skipValue()) != nil {
                    throw DecodeError(.notAnObject, "a record must be a JSON object")
                }
            }
            throw scanner.syntaxError("expected '{'")
        }
        scanner.index += 1
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipWhitespace()
                guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.syntaxError("expected a field name") }
                let key = try scanner.scanString()
                try scanner.expect(UInt8(ascii: ":"), "expected ':' after a field name")
                scanner.skipWhitespace()
                let field = Field(key, in: scanner)
                if let field {
                    // A field given twice keeps its last value, as most JSON readers do.
                    try fields.read(field, from: &scanner, configuration: configuration, intern: &intern, parsedLabels: &parsedLabels)
                } else {
                    try scanner.skipValue(depth: 1)
                }
                scanner.skipWhitespace()
                guard let c = scanner.peek() else { throw scanner.syntaxError("expected ',' or '}'") }
                if c == UInt8(ascii: "}") { scanner.index += 1; break }
                guard c == UInt8(ascii: ",") else { throw scanner.syntaxError("expected ',' or '}'") }
                scanner.index += 1
            }
        }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.syntaxError("expected the end of the line after the object") }
        return try fields.record(scanner: scanner, parsedLabels: parsedLabels, configuration: configuration, ingestTime: ingestTime, intern: &intern)
    }
}

/// The fields design §2 defines.
enum Field: Int, CaseIterable {
    case type, timestamp, tenantID, labels
    case metricName, value
    case hits, misses, sizeKB, cache
    case responseTime, dbQueryTime, memoryUsage, route
    case model, promptTokens, completionTokens, cachedTokens, requestID
    case visitorID, path

    var name: StaticString {
        switch self {
        case .type: "type"
        case .timestamp: "timestamp"
        case .tenantID: "tenant_id"
        case .labels: "labels"
        case .metricName: "metric_name"
        case .value: "value"
        case .hits: "hits"
        case .misses: "misses"
        case .sizeKB: "size_kb"
        case .cache: "cache"
        case .responseTime: "response_time"
        case .dbQueryTime: "db_query_time"
        case .memoryUsage: "memory_usage"
        case .route: "route"
        case .model: "model"
        case .promptTokens: "prompt_tokens"
        case .completionTokens: "completion_tokens"
        case .cachedTokens: "cached_tokens"
        case .requestID: "request_id"
        case .visitorID: "visitor_id"
        case .path: "path"
        }
    }

    var label: String { "\(name)" }

    /// Matches a field name token; `nil` for a field this version does not know.
    init?(_ key: JSONScanner.StringToken, in scanner: JSONScanner) {
        if key.hasEscapes {
            // Rare: `"tenant\u005fid"` is `tenant_id` to any JSON reader, so it must be here too.
            let text = scanner.string(key)
            guard let match = Field.allCases.first(where: { JSONScanner.text(text, equals: $0.name) }) else { return nil }
            self = match
            return
        }
        // Dispatch on the length first: most candidates are rejected without touching bytes.
        // (A switch, not a table: reading a static array of arrays costs a retain per key.)
        func match(_ a: Field, _ b: Field? = nil, _ c: Field? = nil, _ d: Field? = nil) -> Field? {
            if scanner.token(key, equals: a.name) { return a }
            if let b, scanner.token(key, equals: b.name) { return b }
            if let c, scanner.token(key, equals: c.name) { return c }
            if let d, scanner.token(key, equals: d.name) { return d }
            return nil
        }
        let found: Field?
        switch key.end - key.start {
        case 4: found = match(.type, .hits, .path)
        case 5: found = match(.value, .cache, .route, .model)
        case 6: found = match(.labels, .misses)
        case 7: found = match(.sizeKB)
        case 9: found = match(.timestamp, .tenantID)
        case 10: found = match(.requestID, .visitorID)
        case 11: found = match(.metricName)
        case 12: found = match(.memoryUsage)
        case 13: found = match(.responseTime, .dbQueryTime, .promptTokens, .cachedTokens)
        case 17: found = match(.completionTokens)
        default: found = nil
        }
        guard let found else { return nil }
        self = found
    }
}

/// A raw field value, kept as token positions until the record type says how to read it.
/// Plain data on purpose: filling and dropping a line's slots costs no reference counting.
enum RawValue {
    case absent
    case null
    case string(JSONScanner.StringToken)
    case number(JSONScanner.NumberToken)
    /// An object read as labels (held beside the `FieldSlots`).
    case labels
    /// A boolean, array or object where the field wants something else.
    case other
}
