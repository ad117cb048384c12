import Foundation
import Testing
import SluiceModel
import SluicePipeline
import SluiceTesting
@testable import SluiceProtocols

@Suite("Influx line protocol: escaping, types, precision and errors")
struct InfluxLineProtocolTests {
    static let now = Timestamp(microseconds: 1_800_000_000_000_000)

    static func decode(_ text: String, precision: InfluxPrecision = .nanoseconds, tenant: String? = nil,
                       maximumLabels: Int = 30, maximumLineBytes: Int = 1 << 20) -> InfluxLineProtocol.Decoded {
        let context = ProtocolContext(tenantID: tenant, now: now, maximumLabels: maximumLabels, maximumLineBytes: maximumLineBytes)
        return Array(text.utf8).withUnsafeBufferPointer { InfluxLineProtocol.decode($0, precision: precision, context: context) }
    }

    static func metrics(_ decoded: InfluxLineProtocol.Decoded) -> [MetricRecord] {
        decoded.batch.records.compactMap { if case .metric(let m) = $0 { m } else { nil } }
    }

    // MARK: Escaping

    /// Each rule of the reference's "Special characters" section, one line each: the line, the
    /// sample name it must give, and its labels.
    static let escapes: [(line: String, name: String, labels: [String: String])] = [
        // A measurement escapes comma and space; an equals sign in it needs no escape.
        (#"my\ cpu\,total f=1"#, "my cpu,total_f", [:]),
        (#"a=b f=1"#, "a=b_f", [:]),
        // Tag keys and values escape comma, equals sign and space.
        (#"m,t\ k\=\,=v\ a\,l\=ue f=1"#, "m_f", ["t k=,": "v a,l=ue"]),
        // Field keys escape comma, equals sign and space.
        (#"m f\ i\=e\,ld=1"#, "m_f i=e,ld", [:]),
        // A backslash before any other byte is itself, in every name.
        (#"C:\dir,path=C:\tmp\x f\n=1"#, #"C:\dir_f\n"#, ["path": #"C:\tmp\x"#]),
        // Two backslashes are two backslashes; the second may still escape what follows.
        (#"a\\b,t=x\\y f=1"#, #"a\\b_f"#, ["t": #"x\\y"#]),
        (#"a\\,b f=1"#, #"a\,b_f"#, [:]),
        // Escaped characters only where the element allows them: `\=` in a measurement is two bytes.
        (#"m\=x f=1"#, #"m\=x_f"#, [:]),
        // An unescaped `=` in a tag value is part of the value.
        (#"m,q=a=b f=1"#, "m_f", ["q": "a=b"]),
        // UTF-8 names.
        ("température,pièce=salle\\ à\\ manger valeur=21.5", "température_valeur", ["pièce": "salle à manger"]),
    ]

    @Test("every escaping rule of the reference gives the name and labels it spells", arguments: 0..<escapes.count)
    func escaping(_ index: Int) throws {
        let (line, name, labels) = Self.escapes[index]
        let decoded = Self.decode(line)
        #expect(decoded.batch.rejections.isEmpty, "\(line): \(decoded.batch.rejections)")
        let record = try #require(Self.metrics(decoded).first)
        #expect(Self.metrics(decoded).count == 1)
        #expect(record.name == name, "\(line)")
        #expect(record.labels == Labels(labels.map { Labels.Label(key: $0.key, value: $0.value) }), "\(line)")
    }

    @Test("string values escape a double quote and a backslash; separators inside quotes do not end the field")
    func strings() throws {
        let decoded = Self.decode(#"m s="a \"quoted\" \\ back\slash, with = and  spaces",x=2i,t="",u="\\" 1000"#)
        #expect(decoded.batch.rejections.isEmpty, "\(decoded.batch.rejections)")
        #expect(decoded.skippedStrings == 3)
        let records = Self.metrics(decoded)
        #expect(records.map(\.name) == ["m_x"])
        #expect(records.map(\.value) == [2])
        #expect(records.first?.timestamp == Timestamp(microseconds: 1))
    }

    @Test("comments, blank lines, CRLF, leading and trailing spaces are no lines; numbering counts every line")
    func lineStructure() {
        let body = "# a comment\r\n\r\n   \n  m f=1 10000\r\n\t# indented comment\nm f=2   \n bad\nm f=3"
        let decoded = Self.decode(body)
        #expect(Self.metrics(decoded).map(\.value) == [1, 2, 3])
        #expect(decoded.batch.rejections.map(\.line) == [7])
    }

    // MARK: Types

    @Test("floats, integers, unsigned integers and every spelling of a boolean become samples")
    func types() {
        let line = "m a=1,b=-1.5,c=1.e+78,d=.5,e=-2e-3,f=+3,g=-9223372036854775808i,h=9223372036854775807i,i=18446744073709551615u,j=0u"
            + ",t1=t,t2=T,t3=true,t4=True,t5=TRUE,f1=f,f2=F,f3=false,f4=False,f5=FALSE"
        let decoded = Self.decode(line)
        #expect(decoded.batch.rejections.isEmpty, "\(decoded.batch.rejections)")
        let values = Dictionary(uniqueKeysWithValues: Self.metrics(decoded).map { ($0.name, $0.value) })
        let expected: [String: Double] = [
            "m_a": 1, "m_b": -1.5, "m_c": 1e78, "m_d": 0.5, "m_e": -0.002, "m_f": 3, "m_g": -9_223_372_036_854_775_808,
            "m_h": Double(Int64.max), "m_i": Double(UInt64.max), "m_j": 0,
            "m_t1": 1, "m_t2": 1, "m_t3": 1, "m_t4": 1, "m_t5": 1, "m_f1": 0, "m_f2": 0, "m_f3": 0, "m_f4": 0, "m_f5": 0,
        ]
        #expect(values == expected)
    }

    @Test("a field given twice keeps its last value, as InfluxDB does")
    func repeatedField() {
        #expect(Self.metrics(Self.decode("m f=1,g=2,f=3")).map { "\($0.name)=\($0.value)" } == ["m_g=2.0", "m_f=3.0"])
    }

    // MARK: Time

    @Test("a timestamp is read in the request's precision", arguments: [
        (InfluxPrecision.nanoseconds, Int64(1_700_000_000_123_456_789), Int64(1_700_000_000_123_456)),
        (.microseconds, 1_700_000_000_123_456, 1_700_000_000_123_456),
        (.milliseconds, 1_700_000_000_123, 1_700_000_000_123_000),
        (.seconds, 1_700_000_000, 1_700_000_000_000_000),
        (.minutes, 28_333_333, 1_699_999_980_000_000),
        (.hours, 472_222, 1_699_999_200_000_000),
        (.nanoseconds, -1_500, -2),
    ])
    func precision(_ precision: InfluxPrecision, _ raw: Int64, _ microseconds: Int64) {
        let records = Self.metrics(Self.decode("m f=1 \(raw)", precision: precision))
        #expect(records.map(\.timestamp) == [Timestamp(microseconds: microseconds)])
    }

    @Test("a line without a timestamp takes the time of the request")
    func noTimestamp() {
        #expect(Self.metrics(Self.decode("m f=1")).map(\.timestamp) == [Self.now])
    }

    @Test("precision names: v2 takes ns, us, ms, s; v1 also n, u, m, h; anything else is refused")
    func precisionNames() {
        #expect(["ns", "us", "ms", "s", nil].map { InfluxPrecision(v2: $0) } == [.nanoseconds, .microseconds, .milliseconds, .seconds, .nanoseconds])
        #expect(["n", "u", "ms", "s", "m", "h", nil].map { InfluxPrecision(v1: $0) }
            == [.nanoseconds, .microseconds, .milliseconds, .seconds, .minutes, .hours, .nanoseconds])
        #expect(InfluxPrecision(v2: "m") == nil)
        #expect(InfluxPrecision(v2: "h") == nil)
        #expect(InfluxPrecision(v1: "sec") == nil)
    }

    // MARK: Tags and tenants

    @Test("a tenant_id tag names the tenant and is no label; without one the request's tenant applies")
    func tenant() {
        let records = Self.metrics(Self.decode("m,tenant_id=acme,host=a f=1\nm,host=b f=2", tenant: "own"))
        #expect(records.map(\.tenantID) == ["acme", "own"])
        #expect(records.map { $0.labels["host"] } == ["a", "b"])
        #expect(records.allSatisfy { $0.labels["tenant_id"] == nil })
    }

    // MARK: Errors

    /// Bad lines, the reason they are counted by, and the column and words their message gives.
    static let faults: [(line: String, reason: DecodeError.Reason, message: String)] = [
        ("m", .invalidSyntax, "column 2: the line has no fields"),
        ("m ", .invalidSyntax, "column 3: a field key is empty"),
        (",t=1 f=1", .invalidSyntax, "column 1: the measurement is empty"),
        ("m,t f=1", .invalidSyntax, "column 4: tag key \"t\" must be followed by '='"),
        ("m,t= f=1", .invalidSyntax, "column 5: the value of tag \"t\" is empty"),
        ("m,=v f=1", .invalidSyntax, "column 3: a tag key is empty"),
        ("m,t=1,t=2 f=1", .invalidSyntax, "column 7: tag \"t\" is given twice"),
        ("m f", .invalidSyntax, "column 4: field key \"f\" must be followed by '='"),
        ("m f=", .invalidSyntax, "column 5: field \"f\" has no value"),
        ("m f=1,", .invalidSyntax, "column 7: a field key is empty"),
        ("m f=abc", .wrongType, "column 5: field \"f\" value abc is not a float"),
        ("m f=1.5i", .wrongType, "column 5: field \"f\" value 1.5i is not a float"),
        ("m f=-1u", .wrongType, "column 5: field \"f\" value -1u is not"),
        ("m f=nan", .wrongType, "column 5: field \"f\" value nan"),
        ("m f=9223372036854775808i", .outOfRange, "column 5: field \"f\" value 9223372036854775808i does not fit in a 64-bit signed integer"),
        ("m f=18446744073709551616u", .outOfRange, "column 5: field \"f\" value 18446744073709551616u does not fit in a 64-bit unsigned integer"),
        ("m f=1e999", .nonFinite, "field \"f\": value inf is not a finite number"),
        ("m f=\"open", .invalidSyntax, "column 5: the string value of field \"f\" has no closing '\"'"),
        ("m f=1 12x", .badTimestamp, "column 7: timestamp 12x is not an integer"),
        ("m f=1 99999999999999999999", .badTimestamp, "column 7: timestamp 99999999999999999999 does not fit in 64 bits"),
        ("m f=1 1 2", .invalidSyntax, "column 9: unexpected '2' after the timestamp"),
        ("m f=1,g=\"x\"y", .invalidSyntax, "column 12: unexpected 'y' after the fields"),
        ("m f=1,,g=2", .invalidSyntax, "column 7: a field key is empty"),
    ]

    @Test("a bad line is refused with its line number, the column where it broke and why", arguments: 0..<faults.count)
    func refusesBadLine(_ index: Int) throws {
        let (line, reason, message) = Self.faults[index]
        let decoded = Self.decode("ok f=1\n\(line)\nok f=2")
        #expect(Self.metrics(decoded).map(\.value) == [1, 2], "the lines around it are kept")
        let rejection = try #require(decoded.batch.rejections.first)
        #expect(decoded.batch.rejections.count == 1)
        #expect(rejection.line == 2)
        #expect(rejection.error.reason == reason, "\(line): \(rejection.error)")
        #expect(rejection.error.message.contains(message), "\(line): \(rejection.error.message)")
    }

    @Test("a timestamp out of range for its precision, invalid UTF-8, too many labels and a bad tenant are refused")
    func refusedLines() {
        let hours = Self.decode("m f=1 9223372036854775", precision: .hours)
        #expect(hours.batch.rejections.first?.error.reason == .badTimestamp)
        #expect(hours.batch.rejections.first?.error.message.contains("column 7") == true)

        let bytes: [UInt8] = Array("m,t=".utf8) + [0xFF, 0xFE] + Array(" f=1\nok f=1".utf8)
        let context = ProtocolContext(tenantID: nil, now: Self.now)
        let utf8 = bytes.withUnsafeBufferPointer { InfluxLineProtocol.decode($0, precision: .nanoseconds, context: context) }
        #expect(utf8.batch.rejections.map(\.error.reason) == [.invalidUTF8])
        #expect(utf8.batch.rejections.first?.error.message == "column 5: the value of tag \"t\" is not valid UTF-8")
        #expect(utf8.batch.records.count == 1)

        let labels = Self.decode("m,a=1,b=2,c=3 f=1", maximumLabels: 2)
        #expect(labels.batch.rejections.map(\.error.reason) == [.tooManyLabels])
        let tenant = Self.decode("m,tenant_id=a/b f=1")
        #expect(tenant.batch.rejections.map(\.error.reason) == [.badTenant])
        #expect(tenant.batch.rejections.first?.error.message.hasPrefix("tags: ") == true)
    }

    @Test("a line over the line limit is refused without being read, and the next line is still taken")
    func lineLimit() {
        let long = "m,host=" + String(repeating: "x", count: 200) + " f=1"
        let decoded = Self.decode("\(long)\nm f=2", maximumLineBytes: 100)
        #expect(decoded.batch.rejections.map(\.line) == [1])
        #expect(decoded.batch.rejections.first?.error.reason == .lineTooLong)
        #expect(Self.metrics(decoded).map(\.value) == [2])
    }

    // MARK: The InfluxDB client's own serializer

    /// Tricky points built with `influxdb_client.Point` and serialized by it; each printed with
    /// the values it was given (floats in hexadecimal, so nothing is lost on the way).
    static let pointScript = #"""
        import json
        from influxdb_client import Point, WritePrecision
        cases = [
            ("cpu load,1=x", {"ho st": "a,b=c d", "path": "C:\\dir\\f", "eq=": "=x="},
             {"us er": 1.5, "s": 'say "hi" \\ ok', "n": 2**63 - 1, "b": True}, 1700000000123456789, "ns"),
            ("m", {}, {"f": 1e-300, "g": -0.0, "h": 1.7976931348623157e308, "i": 0.1, "j": -2**63, "k": 5e-324}, 1700000000, "s"),
            ("température", {"pièce": "salle à manger", "emoji": "🚀 launch"}, {"valeur": 21.5, "flag": False}, 1700000000123, "ms"),
            ("a\\b", {"k\\,": "v\\=x", "x\\y": "1\\ 2"}, {"x\\ y": 3, "f\\=": 2.25}, 1700000000123456, "us"),
            ("strings", {"t": "v"}, {"a": 'x, y=z "q" \\', "z": 7, "b": "", "c": "=,"}, 1700000000000000001, "ns"),
            ("m#1", {"tag": "#not a comment", "tenant_id": "acme"}, {"v": -42}, 1, "s"),
            ("now", {"host": "h1"}, {"v": 1e21}, None, "ns"),
        ]
        unit = {"ns": 1, "us": 1000, "ms": 1000000, "s": 1000000000}
        precisions = {"ns": WritePrecision.NS, "us": WritePrecision.US, "ms": WritePrecision.MS, "s": WritePrecision.S}
        def typed(v):
            if isinstance(v, bool): return ["bool", "1" if v else "0"]
            if isinstance(v, int): return ["int", str(v)]
            if isinstance(v, float): return ["float", v.hex()]
            return ["string", v]
        out = []
        for m, tags, fields, t, p in cases:
            point = Point(m)
            for k, v in tags.items(): point.tag(k, v)
            for k, v in fields.items(): point.field(k, v)
            if t is not None: point.time(t, precisions[p])
            out.append({"line": point.to_line_protocol(), "precision": p, "measurement": m, "tags": tags,
                        "fields": {k: typed(v) for k, v in fields.items()},
                        "micros": None if t is None else str(t * unit[p] // 1000)})
        print(json.dumps(out))
        """#

    @Test("lines the influxdb-client Point serializer wrote decode to the names, tags, values and times it was given")
    func pointSerializer() async throws {
        let run = try await Self.python(Self.pointScript)
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(run.utf8)) as? [[String: Any]], "\(run)")
        #expect(cases.count == 7)
        for c in cases {
            let line = c["line"] as! String
            let precision = InfluxPrecision(v2: c["precision"] as? String)!
            let decoded = Self.decode(line, precision: precision, tenant: "own")
            #expect(decoded.batch.rejections.isEmpty, "\(line): \(decoded.batch.rejections)")
            var tags = c["tags"] as! [String: String]
            let tenant = tags.removeValue(forKey: "tenant_id") ?? "own"
            let measurement = c["measurement"] as! String
            let time = (c["micros"] as? String).map { Timestamp(microseconds: Int64($0)!) } ?? Self.now
            var expected: [String: UInt64] = [:]
            var strings = 0
            for (key, typed) in c["fields"] as! [String: [String]] {
                switch typed[0] {
                case "float": expected["\(measurement)_\(key)"] = Double(typed[1])!.bitPattern
                case "int": expected["\(measurement)_\(key)"] = Double(Int64(typed[1])!).bitPattern
                case "bool": expected["\(measurement)_\(key)"] = Double(typed[1])!.bitPattern
                default: strings += 1
                }
            }
            let records = Self.metrics(decoded)
            #expect(Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0.value.bitPattern) }) == expected, "\(line)")
            #expect(records.allSatisfy { $0.labels == Labels(tags.map { Labels.Label(key: $0.key, value: $0.value) }) }, "\(line)")
            #expect(records.allSatisfy { $0.tenantID == tenant && $0.timestamp == time }, "\(line)")
            #expect(decoded.skippedStrings == strings, "\(line)")
        }
    }

    /// Runs a Python script to its end and returns what it printed; fails when the client
    /// library is missing (`scripts/setup --tests` installs it).
    static func python(_ script: String) async throws -> String {
        String(decoding: try await Python.run(script), as: UTF8.self)
    }

    // MARK: Fuzz

    /// Valid bodies the mutations start from: every escape, type and section.
    static let seeds: [String] = [
        "cpu,host=a,region=eu-west usage=0.5,idle=99i,up=true,name=\"x\" 1700000000000000000\nmem free=1024u 1700000000000000001\n",
        #"my\ cpu\,total,t\ k\=\,=v\ a\,l\=ue f\ i\=e\,ld=1.5e3,s="a \"q\" \\ b" 1"# + "\r\n# comment\n\nm f=-2i\n",
        "température,pièce=salle\\ à\\ manger valeur=21.5,ok=F,n=18446744073709551615u -1\nm,tenant_id=acme f=1",
        #"C:\dir,path=C:\tmp\x f\n=1,g="",h=t 9223372036854775807"#,
    ]

    @Test("a seeded mutation run (bit flips, truncations, splices, random bytes) never crashes and every bad line is refused with a reason")
    func fuzz() {
        var random = SeededRandom(seed: 0x1F_1D_B0)
        let seeds = Self.seeds.map { Array($0.utf8) }
        let context = ProtocolContext(tenantID: "own", now: Self.now, maximumLabels: 4, maximumLineBytes: 256)
        var inputs = 0, records = 0, rejections = 0
        for _ in 0..<Self.fuzzInputs {
            let input = TextProtocolFuzz.mutate(seeds, &random, alphabet: Array(#"\ ,="#.utf8) + [0x0A, 0x0D, 0x23, 0x69, 0x75, 0x74, 0x2E, 0x2D, 0x65, 0xFF, 0xC3])
            let decoded = input.withUnsafeBufferPointer { InfluxLineProtocol.decode($0, precision: .nanoseconds, context: context) }
            let lines = input.count(where: { $0 == 0x0A }) + 1
            inputs += 1
            records += decoded.batch.records.count
            rejections += decoded.batch.rejections.count
            for rejection in decoded.batch.rejections {
                #expect((1...lines).contains(rejection.line))
                #expect(!rejection.error.message.isEmpty)
            }
            for case .metric(let m) in decoded.batch.records {
                #expect(m.value.isFinite && m.timestamp.isRepresentable && m.labels.count <= 4 && !m.name.isEmpty)
            }
        }
        #expect(inputs == Self.fuzzInputs)
        // The run reaches both outcomes, so it exercises the parser rather than one early exit.
        #expect(records > inputs / 2)
        #expect(rejections > inputs / 4)
    }

    static let fuzzInputs = 20_000
}
