import Testing
@testable import SluiceModel

@Suite("NDJSON decoder")
struct NDJSONDecoderTests {
    let decoder = NDJSONDecoder()
    let t0 = Timestamp(microseconds: 1_795_514_400_000_000)  // 2026-11-24T10:00:00Z

    func decode(_ line: String, ingestTime: Timestamp? = nil) -> Result<Record, DecodeError> {
        decoder.decode(line, ingestTime: ingestTime)
    }

    func record(_ line: String) throws -> Record {
        try decode(line).get()
    }

    @Test("each of the five record types decodes with its fields")
    func recordTypes() throws {
        #expect(try record(#"{"metric_name":"cpu","value":0.5,"timestamp":"2026-11-24T10:00:00Z","tenant_id":"a","labels":{"h":"1"}}"#)
            == .metric(MetricRecord(timestamp: t0, tenantID: "a", labels: ["h": "1"], name: "cpu", value: 0.5)))
        #expect(try record(#"{"type":"cache","hits":3,"misses":1,"size_kb":9,"cache":"lru","timestamp":"2026-11-24T10:00:00Z"}"#)
            == .cache(CacheRecord(timestamp: t0, cache: "lru", hits: 3, misses: 1, sizeKB: 9)))
        #expect(try record(#"{"type":"performance","response_time":12.5,"route":"/x","timestamp":"2026-11-24T10:00:00Z"}"#)
            == .performance(PerformanceRecord(timestamp: t0, labels: ["route": "/x"], responseTime: 12.5)))
        #expect(try record(#"{"type":"token_usage","tenant_id":"t","model":"m","prompt_tokens":10,"completion_tokens":2,"cached_tokens":4,"request_id":"r","timestamp":"2026-11-24T10:00:00Z"}"#)
            == .tokenUsage(TokenUsageRecord(timestamp: t0, tenantID: "t", model: "m", promptTokens: 10, completionTokens: 2, cachedTokens: 4, requestID: "r")))
        #expect(try record(#"{"type":"visit","visitor_id":"v","path":"/p","timestamp":"2026-11-24T10:00:00Z","tenant_id":"site"}"#)
            == .visit(VisitRecord(timestamp: t0, tenantID: "site", visitorID: "v", path: "/p")))
    }

    @Test("timestamps: any offset, fractions to the microsecond, Unix seconds")
    func timestamps() throws {
        let cases: [(String, Int64)] = [
            (#""2026-11-24T10:00:00Z""#, 0),
            (#""2026-11-24T10:00:00.250Z""#, 250_000),
            (#""2026-11-24T10:00:00.123456789Z""#, 123_456),
            (#""2026-11-24T11:30:00+01:30""#, 0),
            (#""2026-11-24T05:00:00-05:00""#, 0),
            (#""2026-11-24t10:00:00z""#, 0),
            ("1795514400", 0),
            ("1795514400.5", 500_000),
            ("1795514400.000001", 1),
            ("1.7955144e9", 0),
        ]
        for (text, offset) in cases {
            let r = try record(#"{"metric_name":"m","value":1,"timestamp":\#(text)}"#)
            #expect(r.timestamp.microseconds == t0.microseconds + offset, "\(text)")
        }
    }

    @Test("a missing timestamp takes the ingest time, and is an error without one")
    func missingTimestamp() throws {
        let now = Timestamp(seconds: 42)
        #expect(try decode(#"{"metric_name":"m","value":1}"#, ingestTime: now).get().timestamp == now)
        guard case .failure(let e) = decode(#"{"metric_name":"m","value":1}"#) else { Issue.record("accepted"); return }
        #expect(e.reason == .missingTimestamp)
    }

    @Test("string escapes, including \\u and surrogate pairs")
    func escapes() throws {
        let r = try record(#"{"metric_name":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","value":1,"timestamp":0}"#)
        guard case .metric(let m) = r else { Issue.record("not a metric"); return }
        #expect(m.name == "a\"b\\c/d\n\té😀")
    }

    @Test("numbers in every JSON form parse to the same double as strtod")
    func numbers() throws {
        let forms = ["0", "-0", "1", "-17", "0.1", "1e3", "1E+3", "2.5e-3", "123456789012345678901234567890",
                     "0.30000000000000004", "4.9e-324", "1.7976931348623157e308", "2.2250738585072014e-308",
                     "9007199254740993", "0.1e1", "-0.0e-0", "3.141592653589793238462643383279"]
        for form in forms {
            guard case .metric(let m) = try record(#"{"metric_name":"m","value":\#(form),"timestamp":0}"#) else {
                Issue.record("\(form) not a metric"); continue
            }
            #expect(m.value.bitPattern == Double(form)!.bitPattern, "\(form)")
        }
    }

    @Test("unknown fields are validated and skipped; labels are sorted; route joins the labels")
    func unknownFieldsAndLabels() throws {
        let r = try record(#"{"extra":{"deep":[1,{"x":null}]},"type":"performance","labels":{"z":"1","a":"2"},"route":"/r","memory_usage":1,"timestamp":0}"#)
        guard case .performance(let p) = r else { Issue.record("not performance"); return }
        #expect(p.labels.pairs.map(\.key) == ["a", "route", "z"])
    }

    @Test("malformed lines are refused with a reason", arguments: [
        ("not json", DecodeError.Reason.invalidJSON),
        (#"{"metric_name":"m","value":1,"timestamp":0"#, .invalidJSON),
        (#"{"metric_name":"m","value":1,"timestamp":0} x"#, .invalidJSON),
        (#"[1]"#, .notAnObject),
        (#""text""#, .notAnObject),
        (#"{"type":"gauge","timestamp":0}"#, .unknownType),
        (#"{"type":7,"timestamp":0}"#, .wrongType),
        (#"{"value":1,"timestamp":0}"#, .missingField),
        (#"{"metric_name":"m","timestamp":0}"#, .missingField),
        (#"{"metric_name":"","value":1,"timestamp":0}"#, .missingField),
        (#"{"metric_name":"m","value":"1","timestamp":0}"#, .wrongType),
        (#"{"metric_name":"m","value":true,"timestamp":0}"#, .wrongType),
        (#"{"metric_name":"m","value":NaN,"timestamp":0}"#, .nonFinite),
        (#"{"metric_name":"m","value":Infinity,"timestamp":0}"#, .nonFinite),
        (#"{"metric_name":"m","value":-Infinity,"timestamp":0}"#, .nonFinite),
        (#"{"metric_name":"m","value":1e999,"timestamp":0}"#, .nonFinite),
        (#"{"metric_name":"m","value":01,"timestamp":0}"#, .invalidJSON),
        (#"{"metric_name":"m","value":1.,"timestamp":0}"#, .invalidJSON),
        (#"{"metric_name":"m","value":1,"timestamp":"2026-11-24 10:00:00Z"}"#, .badTimestamp),
        (#"{"metric_name":"m","value":1,"timestamp":"2026-11-24T10:00:00"}"#, .badTimestamp),
        (#"{"metric_name":"m","value":1,"timestamp":"2026-02-30T10:00:00Z"}"#, .badTimestamp),
        (#"{"metric_name":"m","value":1,"timestamp":"2026-11-24T25:00:00Z"}"#, .badTimestamp),
        (#"{"metric_name":"m","value":1,"timestamp":-5}"#, .badTimestamp),
        (#"{"metric_name":"m","value":1,"timestamp":true}"#, .badTimestamp),
        (#"{"metric_name":"m","value":1,"timestamp":0,"tenant_id":"a/b"}"#, .badTenant),
        (#"{"metric_name":"m","value":1,"timestamp":0,"tenant_id":".."}"#, .badTenant),
        (#"{"metric_name":"m","value":1,"timestamp":0,"tenant_id":""}"#, .badTenant),
        (#"{"metric_name":"m","value":1,"timestamp":0,"labels":{"a":1}}"#, .wrongType),
        (#"{"metric_name":"m","value":1,"timestamp":0,"labels":"a"}"#, .wrongType),
        (#"{"type":"cache","hits":-1,"misses":0,"size_kb":0,"timestamp":0}"#, .outOfRange),
        (#"{"type":"cache","hits":1.0,"misses":0,"size_kb":0,"timestamp":0}"#, .wrongType),
        (#"{"type":"cache","hits":1e2,"misses":0,"size_kb":0,"timestamp":0}"#, .wrongType),
        (#"{"type":"cache","hits":18446744073709551616,"misses":0,"size_kb":0,"timestamp":0}"#, .outOfRange),
        (#"{"type":"cache","hits":1,"misses":0,"timestamp":0}"#, .missingField),
        (#"{"type":"performance","timestamp":0}"#, .missingField),
        (#"{"type":"token_usage","model":"m","prompt_tokens":1,"completion_tokens":1,"request_id":"r","timestamp":0}"#, .missingField),
        (#"{"type":"token_usage","tenant_id":"t","prompt_tokens":1,"completion_tokens":1,"request_id":"r","timestamp":0}"#, .missingField),
        (#"{"type":"token_usage","tenant_id":"t","model":"m","prompt_tokens":1,"completion_tokens":1,"cached_tokens":2,"request_id":"r","timestamp":0}"#, .outOfRange),
        (#"{"type":"visit","timestamp":0}"#, .missingField),
        (#"{"metric_name":"a\ud800","value":1,"timestamp":0}"#, .invalidUTF8),
        (#"{"metric_name":"a\q","value":1,"timestamp":0}"#, .invalidJSON),
        ("{\"metric_name\":\"a\u{1}\",\"value\":1,\"timestamp\":0}", .invalidJSON),
    ])
    func malformed(line: String, reason: DecodeError.Reason) {
        switch decode(line) {
        case .success(let r): Issue.record("accepted \(line) as \(r)")
        case .failure(let e): #expect(e.reason == reason, "\(line): \(e.message)")
        }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        var bytes = Array(#"{"metric_name":"a"#.utf8)
        bytes.append(0xFF)
        bytes += Array(#"","value":1,"timestamp":0}"#.utf8)
        guard case .failure(let e) = decoder.decode(bytes, ingestTime: nil) else { Issue.record("accepted"); return }
        #expect(e.reason == .invalidUTF8)
    }

    @Test("limits: line length, label count, tenant id length")
    func limits() {
        var config = NDJSONDecoder.Configuration()
        config.maximumLineBytes = 100
        let small = NDJSONDecoder(configuration: config)
        let long = #"{"metric_name":"\#(String(repeating: "x", count: 100))","value":1,"timestamp":0}"#
        #expect(small.decode(long, ingestTime: nil).failureReason == .lineTooLong)

        let labels = (0...30).map { #""k\#($0)":"v""# }.joined(separator: ",")
        #expect(decode(#"{"metric_name":"m","value":1,"timestamp":0,"labels":{\#(labels)}}"#).failureReason == .tooManyLabels)
        let thirty = (0..<30).map { #""k\#($0)":"v""# }.joined(separator: ",")
        #expect(decode(#"{"metric_name":"m","value":1,"timestamp":0,"labels":{\#(thirty)}}"#).failureReason == nil)

        #expect(decode(#"{"metric_name":"m","value":1,"timestamp":0,"tenant_id":"\#(String(repeating: "a", count: 150))"}"#).failureReason == nil)
        #expect(decode(#"{"metric_name":"m","value":1,"timestamp":0,"tenant_id":"\#(String(repeating: "a", count: 151))"}"#).failureReason == .badTenant)
    }

    @Test("a repeated label key keeps its last value and counts once against the limit")
    func repeatedLabels() throws {
        let metric = #""metric_name":"m","value":1,"timestamp":0"#
        let same = (0...30).map { #""k":"v\#($0)""# }.joined(separator: ",")
        guard case .metric(let one) = try record(#"{\#(metric),"labels":{\#(same)}}"#) else { Issue.record("not a metric"); return }
        #expect(one.labels == ["k": "v30"])

        // Thirty distinct keys, the first repeated out of order at the end: still thirty labels.
        let thirty = (0..<30).map { #""k\#($0)":"v""# } + [#""k0":"last""#]
        guard case .metric(let full) = try record(#"{\#(metric),"labels":{\#(thirty.joined(separator: ","))}}"#) else {
            Issue.record("not a metric"); return
        }
        #expect(full.labels.count == 30)
        #expect(full.labels["k0"] == "last")

        // A thirty-first distinct key is one too many, however many repeats came before it.
        let over = thirty + [#""k30":"v""#]
        #expect(decode(#"{\#(metric),"labels":{\#(over.joined(separator: ","))}}"#).failureReason == .tooManyLabels)
    }

    @Test("a repeated field keeps its last value")
    func repeatedField() throws {
        guard case .metric(let m) = try record(#"{"metric_name":"a","value":1,"metric_name":"b","timestamp":0}"#) else {
            Issue.record("not a metric"); return
        }
        #expect(m.name == "b")
    }

    @Test("every field design §2 names is recognised by its name, and only by it")
    func everyFieldName() {
        for field in Field.allCases {
            let text = Array("\"\(field.name)\"".utf8)
            text.withUnsafeBufferPointer { bytes in
                var scanner = JSONScanner(bytes)
                let token = try! scanner.scanString()
                #expect(Field(token, in: scanner) == field, "\(field.name)")
            }
            // One byte changed or added is another (unknown) field.
            for variant in ["\"\(field.name)x\"", "\"x\(field.name.description.dropFirst())\""] {
                Array(variant.utf8).withUnsafeBufferPointer { bytes in
                    var scanner = JSONScanner(bytes)
                    let token = try! scanner.scanString()
                    #expect(Field(token, in: scanner) == nil, "\(variant)")
                }
            }
        }
    }
}

extension Result where Failure == DecodeError {
    var failureReason: DecodeError.Reason? {
        if case .failure(let e) = self { return e.reason }
        return nil
    }
}
