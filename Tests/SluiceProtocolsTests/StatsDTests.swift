import Testing
import SluiceModel
import SluicePipeline
@testable import SluiceProtocols

@Suite("StatsD and DogStatsD: types, rates, gauges, sets, tags and errors")
struct StatsDTests {
    static let now = Timestamp(seconds: 1_800_000_030)

    static func state(tenant: String? = "listener", interval: WindowDuration = .minutes(1), maximumLabels: Int = 30, maximumSeries: Int = 100_000) -> StatsDState {
        StatsDState(configuration: .init(tenantID: tenant, setInterval: interval, maximumLabels: maximumLabels, maximumLineBytes: 256,
                                         maximumSeries: maximumSeries))
    }

    static func receive(_ state: inout StatsDState, _ text: String, now: Timestamp = now) -> StatsDState.Received {
        Array(text.utf8).withUnsafeBufferPointer { state.receive(datagram: $0, now: now) }
    }

    static func metrics(_ records: [Record]) -> [MetricRecord] {
        records.compactMap { if case .metric(let m) = $0 { m } else { nil } }
    }

    /// `name=value` of each sample, in order.
    static func samples(_ received: StatsDState.Received) -> [String] {
        metrics(received.batch.records).map { "\($0.name)=\($0.value)" }
    }

    // MARK: Types

    @Test("counters, gauges, timers, histograms and distributions each become samples of their value")
    func types() {
        var state = Self.state()
        let received = Self.receive(&state, "hits:3|c\ntemp:21.5|g\nlatency:12.25|ms\nsize:512|h\npayload:-4e2|d")
        #expect(received.batch.rejections.isEmpty, "\(received.batch.rejections)")
        #expect(Self.samples(received) == ["hits=3.0", "temp=21.5", "latency=12.25", "size=512.0", "payload=-400.0"])
        #expect(Self.metrics(received.batch.records).allSatisfy { $0.timestamp == Self.now && $0.tenantID == "listener" && $0.labels.isEmpty })
    }

    @Test("a counter's value is divided by its sample rate; other types take the value as sent")
    func rates() {
        var state = Self.state()
        let received = Self.receive(&state, "a:1|c|@0.1\nb:3|c|@0.5\nc:2|c|@1\nt:7|ms|@0.25\ng:4|g|@0.5")
        #expect(Self.samples(received) == ["a=10.0", "b=6.0", "c=2.0", "t=7.0", "g=4.0"])
    }

    @Test("DogStatsD multi-value lines are one sample per value")
    func multiValue() {
        var state = Self.state()
        let received = Self.receive(&state, "t:1:2.5:3|ms\nc:1:2|c|@0.5")
        #expect(Self.samples(received) == ["t=1.0", "t=2.5", "t=3.0", "c=2.0", "c=4.0"])
    }

    // MARK: Gauges

    @Test("a signed gauge value changes the series' previous value, across datagrams; an unsigned one sets it")
    func gaugeDeltas() {
        var state = Self.state()
        #expect(Self.samples(Self.receive(&state, "g:10|g\ng:+5|g\ng:-3|g")) == ["g=10.0", "g=15.0", "g=12.0"])
        #expect(Self.samples(Self.receive(&state, "g:+0.5|g\ng:2|g\ng:-1:+4|g")) == ["g=12.5", "g=2.0", "g=1.0", "g=5.0"])
        // A new series starts from 0; series differ by tags and by tenant.
        #expect(Self.samples(Self.receive(&state, "g:-3|g|#host:a\ng:+1|g|#tenant_id:other")) == ["g=-3.0", "g=1.0"])
        #expect(Self.samples(Self.receive(&state, "g:+1|g|#host:a\ng:+1|g")) == ["g=-2.0", "g=6.0"])
    }

    @Test("a refused gauge line leaves the gauge as it was")
    func refusedGauge() {
        var state = Self.state()
        _ = Self.receive(&state, "g:10|g")
        let received = Self.receive(&state, "g:+5|g|#tenant_id:a/b\ng:+1|g")
        #expect(received.batch.rejections.map(\.line) == [1])
        #expect(Self.samples(received) == ["g=11.0"])
    }

    // MARK: Sets

    @Test("a set counts each distinct member once per interval, reported at the interval's start once it is over")
    func setIntervals() {
        var state = Self.state(interval: .seconds(10))
        let start = Timestamp(seconds: 1_800_000_030)
        _ = Self.receive(&state, "users:alice|s\nusers:bob|s\nusers:alice|s", now: start + .seconds(1))
        _ = Self.receive(&state, "users:carol|s|#page:home", now: start + .seconds(9))
        _ = Self.receive(&state, "users:dave|s", now: start + .seconds(10))
        #expect(state.nextFlush == start + .seconds(10))
        #expect(state.flush(through: Timestamp(microseconds: start.microseconds + 9_999_999)).isEmpty, "the interval is not over yet")
        let first = Self.metrics(state.flush(through: start + .seconds(10)))
        #expect(first.map { "\($0.name)\($0.labels.isEmpty ? "" : "{page}")=\($0.value)@\($0.timestamp)" }
            == ["users=2.0@\(start)", "users{page}=1.0@\(start)"])
        #expect(state.nextFlush == start + .seconds(20))
        let rest = Self.metrics(state.finish())
        #expect(rest.map { "\($0.name)=\($0.value)@\($0.timestamp)" } == ["users=1.0@\(start + .seconds(10))"])
        #expect(state.finish().isEmpty)
        #expect(state.nextFlush == nil)
    }

    @Test("set estimates against the exact distinct count", arguments: [(100, 0.0), (2_000, 0.0), (50_000, 0.02)])
    func setAccuracy(_ distinct: Int, _ tolerance: Double) throws {
        var state = Self.state()
        var random = SeededRandom(seed: UInt64(distinct))
        var exact = Set<String>()
        var datagram = ""
        // Each member about three times, in random order, sent 100 lines a datagram.
        for i in 0..<(distinct * 3) {
            let member = "user-\(random.next() % UInt64(distinct))"
            exact.insert(member)
            datagram += "visitors:\(member)|s\n"
            if i % 100 == 99 {
                _ = Self.receive(&state, datagram)
                datagram = ""
            }
        }
        _ = Self.receive(&state, datagram)
        let estimate = try #require(Self.metrics(state.finish()).first).value
        let error = abs(estimate - Double(exact.count)) / Double(exact.count)
        #expect(error <= tolerance, "estimate \(estimate), exact \(exact.count)")
    }

    @Test("a set member is any text, colons included, and is never split into values")
    func setMembers() {
        var state = Self.state()
        _ = Self.receive(&state, "ids:a:b|s\nids:a|s\nids:b|s\nids:a:b|s")
        #expect(Self.metrics(state.finish()).map(\.value) == [3])
    }

    // MARK: Tags, tenants, sections

    @Test("DogStatsD tags become labels: the first colon ends the name, a bare tag has an empty value")
    func tags() throws {
        var state = Self.state()
        let received = Self.receive(&state, "req:1|c|#env:prod,flag,region:eu:west,env:staging")
        let record = try #require(Self.metrics(received.batch.records).first)
        #expect(record.labels == ["env": "staging", "flag": "", "region": "eu:west"])
    }

    @Test("a tenant_id tag names the tenant; without one the listener's tenant applies, or none")
    func tenants() {
        var state = Self.state(tenant: "listener")
        let records = Self.metrics(Self.receive(&state, "a:1|c|#tenant_id:acme,host:x\na:1|c").batch.records)
        #expect(records.map(\.tenantID) == ["acme", "listener"])
        #expect(records.first?.labels == ["host": "x"])
        var platform = Self.state(tenant: nil)
        #expect(Self.metrics(Self.receive(&platform, "a:1|c").batch.records).map(\.tenantID) == [nil])
    }

    @Test("|T gives the sample's time; container, external data and cardinality sections are read and ignored")
    func sections() {
        var state = Self.state()
        let received = Self.receive(&state, "a:1|c|#x:y|T1700000000|c:ci-1234|e:it-abc|card:low\nb:2|g|T1700000001")
        #expect(received.batch.rejections.isEmpty, "\(received.batch.rejections)")
        #expect(Self.metrics(received.batch.records).map(\.timestamp) == [Timestamp(seconds: 1_700_000_000), Timestamp(seconds: 1_700_000_001)])
    }

    @Test("DogStatsD events and service checks are skipped and counted, not refused")
    func eventsAndChecks() {
        var state = Self.state()
        let received = Self.receive(&state, "_e{5,4}:title|text|#a:b\n_sc|db.up|0\nok:1|c")
        #expect(received.skipped == 2)
        #expect(received.batch.rejections.isEmpty)
        #expect(Self.samples(received) == ["ok=1.0"])
    }

    // MARK: Errors

    static let faults: [(line: String, reason: DecodeError.Reason, message: String)] = [
        ("name", .invalidSyntax, "column 5: expected '|' and a type"),
        ("name|c", .invalidSyntax, "column 5: expected ':' and a value after the name"),
        (":1|c", .invalidSyntax, "column 1: the metric name is empty"),
        ("a:1|x", .invalidSyntax, "column 5: unknown type \"x\": expected c, g, ms, h, d or s"),
        ("a:1|", .invalidSyntax, "column 5: unknown type \"\""),
        ("a:|c", .wrongType, "column 3: a value is empty"),
        ("a:1::2|ms", .wrongType, "column 5: a value is empty"),
        ("a:one|c", .wrongType, "column 3: value \"one\" is not a number"),
        ("a:1e999|g", .nonFinite, "column 3: value 1e999 is not a finite number"),
        ("a:|s", .invalidSyntax, "column 3: the set member is empty"),
        ("a:1|c|@0", .outOfRange, "column 7: sample rate \"@0\" must be a number greater than 0 and at most 1"),
        ("a:1|c|@1.5", .outOfRange, "column 7: sample rate"),
        ("a:1|c|@x", .outOfRange, "column 7: sample rate"),
        ("a:1|c|#,b", .invalidSyntax, "column 8: a tag has an empty name"),
        ("a:1|c|#b:1,:2", .invalidSyntax, "column 12: a tag has an empty name"),
        ("a:1|c|T17x", .badTimestamp, "column 7: timestamp \"T17x\" must be T and whole Unix seconds"),
        ("a:1|c||#b", .invalidSyntax, "column 7: empty section between '|'"),
        ("a:1|c|zzz", .invalidSyntax, "column 7: unknown section \"zzz\""),
        ("a:1e308|c|@0.1", .nonFinite, "counter \"a\" scaled by its sample rate is inf"),
        ("a:1|c|#tenant_id:no/slash", .badTenant, "tags: "),
    ]

    @Test("a bad line is refused with its line number, the column where it broke and why; the datagram's other lines are kept",
          arguments: 0..<faults.count)
    func refusesBadLine(_ index: Int) throws {
        let (line, reason, message) = Self.faults[index]
        var state = Self.state()
        let received = Self.receive(&state, "ok:1|c\n\(line)\nok:2|c")
        #expect(Self.samples(received) == ["ok=1.0", "ok=2.0"])
        let rejection = try #require(received.batch.rejections.first)
        #expect(received.batch.rejections.count == 1)
        #expect(rejection.line == 2)
        #expect(rejection.error.reason == reason, "\(line): \(rejection.error)")
        #expect(rejection.error.message.contains(message), "\(line): \(rejection.error.message)")
    }

    @Test("invalid UTF-8, too many tags, an over-long line and too many series are refused")
    func limits() {
        var state = Self.state(maximumLabels: 2, maximumSeries: 2)
        let bytes: [UInt8] = Array("a".utf8) + [0xFF] + Array(":1|c\n".utf8) + Array("b:1|c|#x,y,z\n".utf8)
            + Array("c:\(String(repeating: "9", count: 300))|c\n".utf8)
        let received = bytes.withUnsafeBufferPointer { state.receive(datagram: $0, now: Self.now) }
        #expect(received.batch.rejections.map(\.error.reason) == [.invalidUTF8, .tooManyLabels, .lineTooLong])
        #expect(received.batch.rejections.map(\.line) == [1, 2, 3])
        let gauges = Self.receive(&state, "g1:1|g\ng2:1|g\ng3:1|g\ng1:+1|g")
        #expect(Self.samples(gauges) == ["g1=1.0", "g2=1.0", "g1=2.0"])
        #expect(gauges.batch.rejections.map(\.error.reason) == [.outOfRange])
        #expect(gauges.batch.rejections.first?.line == 3)
    }

    // MARK: Fuzz

    static let seeds: [String] = [
        "hits:1|c|@0.5|#env:prod,host:a\ntemp:+1.5|g\nlatency:12.5:13|ms|#route:/api\n",
        "users:alice|s|#tenant_id:acme\nsize:1e3|h|T1700000000|c:ci-abc\npayload:-4|d|card:low\n",
        "_e{5,4}:title|text|#a:b\n_sc|db.up|0\ng:-3|g|#x\r\n\n",
    ]

    @Test("a seeded mutation run (bit flips, truncations, splices, random bytes) never crashes and every bad line is refused with a reason")
    func fuzz() {
        var random = SeededRandom(seed: 0x57A7_5D)
        let seeds = Self.seeds.map { Array($0.utf8) }
        var state = Self.state(maximumLabels: 4)
        var records = 0, rejections = 0
        for i in 0..<Self.fuzzInputs {
            let input = TextProtocolFuzz.mutate(seeds, &random, alphabet: Array("|:@#,.+-\n\r".utf8) + [0x54, 0x63, 0x67, 0x73, 0xFF])
            let now = Self.now + .seconds(Int64(i / 100))
            let received = input.withUnsafeBufferPointer { state.receive(datagram: $0, now: now) }
            let lines = input.count(where: { $0 == 0x0A }) + 1
            records += received.batch.records.count
            rejections += received.batch.rejections.count
            for rejection in received.batch.rejections {
                #expect((1...lines).contains(rejection.line))
                #expect(!rejection.error.message.isEmpty)
            }
            for case .metric(let m) in received.batch.records {
                #expect(m.value.isFinite && m.timestamp.isRepresentable && m.labels.count <= 4 && !m.name.isEmpty)
            }
            if i % 1_000 == 0 { records += state.flush(through: now).count }
        }
        records += state.finish().count
        #expect(records > Self.fuzzInputs / 2)
        #expect(rejections > Self.fuzzInputs / 4)
    }

    static let fuzzInputs = 20_000
}
