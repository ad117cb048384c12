import Foundation
import Testing
import SluiceModel
import SluicePipeline
@testable import SluiceProtocols

/// Remote-write bodies built by Python with the classes generated from Prometheus' own
/// `remote.proto`/`types.proto` (shipped by PyPI `prometheus-remote-writer`) and compressed by
/// `cramjam`; each case carries the records its samples mean, so the decoder is checked
/// against what the sender put in, never against itself.
@Suite("Remote write 1.0 requests decode to the samples Prometheus' protobuf classes encoded")
struct RemoteWriteTests {
    /// Cases as JSON: the compressed body, the protobuf, the records it means (bits of each
    /// value as hex), the refusals `[series, sample (0: the whole series), reason]`, and how
    /// many staleness markers it holds.
    static let script = """
        import base64, json, random, struct, sys, cramjam
        from prometheus_remote_writer.proto.remote_pb2 import WriteRequest
        from prometheus_remote_writer.proto import types_pb2 as pb

        def double(b): return struct.unpack("<d", struct.pack("<Q", b))[0]
        def bits(v): return struct.unpack("<Q", struct.pack("<d", v))[0]
        STALE = double(0x7FF0000000000002)
        cases = []

        def add(name, raw, records, rejected=(), stale=0):
            WriteRequest.FromString(raw)  # what is sent is valid protobuf for Prometheus' schema
            cases.append({"name": name, "raw": base64.b64encode(raw).decode(),
                          "body": base64.b64encode(bytes(cramjam.snappy.compress_raw(raw))).decode(),
                          "records": records, "rejected": list(rejected), "stale": stale})

        # series: (labels [(name, value)], samples [(value, ms, expect)], refusal of the whole series or None)
        # expect: "ok", "stale", or the reason the sample is refused for.
        def build(series, tenant="site-a"):
            req = WriteRequest()
            records, rejected, stale = [], [], 0
            for number, (labels, samples, whole) in enumerate(series, 1):
                ts = req.timeseries.add()
                for k, v in labels: ts.labels.add(name=k, value=v)
                for v, ms, _ in samples: ts.samples.add(value=v, timestamp=ms)
                if whole:
                    rejected.append([number, 0, whole]); continue
                d = dict(labels); name = d.pop("__name__")
                owner = d.pop("tenant_id", tenant)
                d = {k: v for k, v in d.items() if v != ""}
                for i, (v, ms, expect) in enumerate(samples, 1):
                    if expect == "ok":
                        records.append({"name": name, "labels": d, "tenant": owner, "bits": "%016x" % bits(v), "ms": ms})
                    elif expect == "stale": stale += 1
                    else: rejected.append([number, i, expect])
            return req, records, rejected, stale

        rng = random.Random(2024)
        names = ["http_requests_total", "process_cpu_seconds_total", "go_goroutines", "node_load1", "rpc_duration_seconds_bucket"]
        values = [0.0, -0.0, 1.0, 0.25, -3.5, 1e-300, 5e-324, 1.7976931348623157e308, -1e20, 123456789.123, 0.1]
        series = []
        for i in range(60):
            labels = sorted([("__name__", rng.choice(names)), ("job", rng.choice(["api", "web"])), ("instance", "10.0.0.%d:9100" % rng.randrange(9)),
                             ("series", str(i))] + ([("le", rng.choice(["0.1", "1", "+Inf"]))] if rng.random() < 0.3 else []))
            samples = [(rng.choice(values) if rng.random() < 0.4 else rng.gauss(0, 1000), 1_700_000_000_000 + rng.randrange(10**9), "ok")
                       for _ in range(rng.randrange(0, 6))]
            series.append((labels, samples, None))
        series.append(([("__name__", "epoch"), ("job", "api")], [(1.0, 0, "ok"), (2.0, -1500, "ok"), (3.0, 253402300799999, "ok")], None))
        req, records, rejected, stale = build(series)
        add("a scrape's worth of series", req.SerializeToString(), records, rejected, stale)

        req, records, rejected, stale = build([
            ([("__name__", "rpc_duration_seconds"), ("job", "api")], [(0.5, 1_700_000_000_000, "ok"), (0.75, 1_700_000_015_000, "ok")], None),
            ([("__name__", "native_histogram"), ("job", "api")], [], None),
        ])
        ts = req.timeseries[0]
        ex = ts.exemplars.add(value=0.3, timestamp=1_700_000_000_001); ex.labels.add(name="trace_id", value="abc")
        h = req.timeseries[1].histograms.add(count_int=3, sum=1.5, schema=3, zero_threshold=1e-128, timestamp=1_700_000_000_000)
        h.positive_spans.add(offset=0, length=2); h.positive_deltas.extend([1, 1])
        req.metadata.add(type=pb.MetricMetadata.HISTOGRAM, metric_family_name="rpc_duration_seconds", help="RPC latency", unit="seconds")
        add("metadata, exemplars and native histograms are skipped", req.SerializeToString(), records, rejected, stale)

        # Hand-assembled: unknown fields of every wire type at every level, fields out of order,
        # labels unsorted, labels and samples interleaved.
        def varint(n):
            n &= (1 << 64) - 1
            out = bytearray()
            while True:
                b = n & 0x7F; n >>= 7
                if n: out.append(b | 0x80)
                else: out.append(b); return bytes(out)
        def key(field, wire): return varint(field << 3 | wire)
        def ld(field, payload): return key(field, 2) + varint(len(payload)) + payload
        unknown = key(7, 0) + varint(300) + key(8, 5) + b"\\x01\\x02\\x03\\x04" + ld(9, b"xyz") + key(10, 1) + struct.pack("<d", 9.5)
        def label(k, v): return ld(1, k.encode()) + unknown + ld(2, v.encode())
        def sample(v, ms): return key(2, 0) + varint(ms) + unknown + key(1, 1) + struct.pack("<d", v)
        ts = (ld(2, sample(4.5, 1_700_000_000_500)) + ld(1, label("zone", "eu")) + unknown + ld(1, label("__name__", "temperature"))
              + ld(2, sample(-2.25, 1_700_000_001_500)) + ld(1, label("room", "r1")))
        raw = key(2, 0) + varint(5) + ld(1, ts) + ld(4, b"future") + ld(3, b"\\x08\\x01") + key(15, 5) + b"\\x00\\x00\\x80\\x3f"
        parsed = WriteRequest.FromString(raw)
        assert [(l.name, l.value) for l in parsed.timeseries[0].labels] == [("zone", "eu"), ("__name__", "temperature"), ("room", "r1")]
        recs = [{"name": "temperature", "labels": {"zone": "eu", "room": "r1"}, "tenant": "site-a", "bits": "%016x" % bits(s.value), "ms": s.timestamp}
                for s in parsed.timeseries[0].samples]
        assert len(recs) == 2
        add("unknown fields at every level are skipped", raw, recs)

        req, records, rejected, stale = build([
            ([("__name__", "up"), ("job", "api")], [(1.0, 1_700_000_000_000, "ok"), (STALE, 1_700_000_015_000, "stale"), (1.0, 1_700_000_030_000, "ok")], None),
            ([("__name__", "up"), ("job", "web")], [(STALE, 1_700_000_015_000, "stale")], None),
        ])
        raw = req.SerializeToString()
        assert struct.pack("<Q", 0x7FF0000000000002) in raw
        add("staleness markers and other NaNs are skipped and counted", raw, records, rejected, stale)

        many = [("__name__", "wide")] + [("l%02d" % i, "v") for i in range(31)]
        req, records, rejected, stale = build([
            ([("__name__", "kept"), ("job", "api")], [(1.0, 1_700_000_000_000, "ok")], None),
            ([("job", "api"), ("instance", "a")], [(1.0, 1_700_000_000_000, "x"), (2.0, 1_700_000_001_000, "x")], "missing_field"),
            ([("__name__", "mixed"), ("job", "api")], [(1.0, 1_700_000_000_000, "ok"), (float("inf"), 1_700_000_001_000, "non_finite"),
                (float("-inf"), 1_700_000_002_000, "non_finite"), (double(0x7FF8000000000000), 1_700_000_003_000, "stale"),
                (double(0x7FF0000000000001), 1_700_000_004_000, "stale"), (5.0, 1_700_000_005_000, "ok")], None),
            ([("__name__", "future")], [(1.0, 253402300800000, "bad_timestamp"), (2.0, 2**63 - 1, "bad_timestamp"), (3.0, -2**63, "bad_timestamp"),
                (4.0, 1_700_000_000_000, "ok")], None),
            ([("__name__", "owned"), ("tenant_id", "bad tenant!")], [(1.0, 1_700_000_000_000, "x")], "bad_tenant"),
            (many, [(1.0, 1_700_000_000_000, "x")], "too_many_labels"),
            ([("__name__", "twice"), ("job", "a"), ("job", "b")], [(1.0, 1_700_000_000_000, "x")], "invalid_syntax"),
            ([("__name__", "other"), ("tenant_id", "site-b"), ("empty", "")], [(7.0, 1_700_000_000_000, "ok")], None),
            ([("__name__", "")], [(1.0, 1_700_000_000_000, "x")], "missing_field"),
        ])
        add("refused series and samples name their position; the rest is kept", req.SerializeToString(), records, rejected, stale)

        add("an empty request", b"", [])
        json.dump(cases, sys.stdout)
        """

    struct Case {
        var name: String
        var raw: [UInt8]
        var body: [UInt8]
        var records: [[String: Any]]
        var rejected: [[Any]]
        var stale: Int
    }

    static func cases() async throws -> [Case] {
        let json = try JSONSerialization.jsonObject(with: try await RemoteWritePeer.run(Self.script)) as? [[String: Any]] ?? []
        return json.map { c in
            Case(name: c["name"] as? String ?? "", raw: Array(Data(base64Encoded: c["raw"] as? String ?? "") ?? Data()),
                 body: Array(Data(base64Encoded: c["body"] as? String ?? "") ?? Data()),
                 records: c["records"] as? [[String: Any]] ?? [], rejected: c["rejected"] as? [[Any]] ?? [], stale: c["stale"] as? Int ?? -1)
        }
    }

    static let context = ProtocolContext(tenantID: "site-a", now: Timestamp(microseconds: 0))

    /// Snappy, then the protobuf: what `POST /api/v1/write` does with a body.
    static func decode(_ body: [UInt8]) throws(ProtocolError) -> RemoteWrite.Decoded {
        let raw = try body.withUnsafeBufferPointer { b throws(ProtocolError) in try Snappy.decompress(b, limit: 1 << 24) }
        return try raw.withUnsafeBufferPointer { b throws(ProtocolError) in try RemoteWrite.decode(b, context: context) }
    }

    /// A record as the Python side describes one.
    static func described(_ record: Record) -> String {
        guard case .metric(let m) = record else { return "not a metric: \(record)" }
        let labels = m.labels.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(m.name){\(labels)} tenant=\(m.tenantID ?? "-") bits=\(String(m.value.bitPattern, radix: 16)) µs=\(m.timestamp.microseconds)"
    }

    static func described(_ record: [String: Any]) -> String {
        let labels = (record["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let bits = UInt64(record["bits"] as? String ?? "", radix: 16).map { String($0, radix: 16) } ?? "?"
        let ms = (record["ms"] as? NSNumber)?.int64Value ?? 0
        return "\(record["name"] as? String ?? ""){\(labels)} tenant=\(record["tenant"] as? String ?? "-") bits=\(bits) µs=\(ms * 1000)"
    }

    @Test("every case decodes to the records, refusals and skipped NaNs its sender meant")
    func decodesCases() async throws {
        let cases = try await Self.cases()
        #expect(cases.map(\.name) == ["a scrape's worth of series", "metadata, exemplars and native histograms are skipped",
                                      "unknown fields at every level are skipped", "staleness markers and other NaNs are skipped and counted",
                                      "refused series and samples name their position; the rest is kept", "an empty request"])
        for c in cases {
            let decoded = try Self.decode(c.body)
            #expect(decoded.batch.records.map(Self.described) == c.records.map(Self.described), "\(c.name)")
            #expect(decoded.notANumber == c.stale, "\(c.name)")
            let refusals = decoded.batch.rejections
            #expect(refusals.count == c.rejected.count, "\(c.name): \(refusals.map(\.description))")
            for (refusal, expected) in zip(refusals, c.rejected) {
                let series = expected[0] as? Int ?? -1, sample = expected[1] as? Int ?? -1, reason = expected[2] as? String ?? ""
                #expect(refusal.line == series, "\(c.name): \(refusal)")
                #expect(refusal.error.reason.rawValue == reason, "\(c.name): \(refusal)")
                #expect(refusal.error.message.hasPrefix("series \(series) ("), "\(c.name): \(refusal)")
                if sample > 0 { #expect(refusal.error.message.contains(") sample \(sample): "), "\(c.name): \(refusal)") }
            }
        }
        #expect(cases.first?.records.count ?? 0 > 100)
    }

    @Test("a refusal names the series as Prometheus prints it, and why")
    func refusalMessages() async throws {
        let refused = try #require(try await Self.cases().first { $0.name.hasPrefix("refused") })
        let messages = try Self.decode(refused.body).batch.rejections.map(\.error.message)
        #expect(messages.contains(#"series 2 ({job="api",instance="a"}): no __name__ label, so its 2 samples have no metric name"#), "\(messages)")
        #expect(messages.contains(#"series 3 (mixed{job="api"}) sample 2: value inf is not a finite number"#), "\(messages)")
        #expect(messages.contains(#"series 4 (future) sample 2: timestamp 9223372036854775807 ms is outside years 0000 to 9999"#), "\(messages)")
        #expect(messages.contains(#"series 7 (twice{job="a",job="b"}): label job appears twice"#), "\(messages)")
    }

    @Test("a body that is not a WriteRequest is refused whole, naming the byte")
    func refusesMalformedProtobuf() throws {
        // Field 1 claims 16 bytes, 2 remain; a sample value sent as a varint; a group.
        for (raw, message) in [([UInt8]([0x0A, 0x10, 0x0A, 0x00]), "invalid protobuf at byte 0: field 1 claims 16 bytes"),
                               ([0x0A, 0x04, 0x12, 0x02, 0x08, 0x01], "invalid protobuf at byte 4: field 1 (sample value) has wire type 0, expected 1"),
                               ([0x0B], "invalid protobuf at byte 0: field 1 uses the deprecated group encoding")] {
            let error = #expect(throws: ProtocolError.self) {
                try raw.withUnsafeBufferPointer { b throws(ProtocolError) in try RemoteWrite.decode(b, context: Self.context) }
            }
            #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
        }
    }

    /// Wraps bytes in a snappy block of literals only, so mutated protobuf reaches the
    /// protobuf decoder through snappy as a request body would.
    static func literalBlock(_ raw: [UInt8]) -> [UInt8] {
        var block: [UInt8] = []
        var n = raw.count
        repeat { block.append(UInt8(n & 0x7F) | (n > 0x7F ? 0x80 : 0)); n >>= 7 } while n > 0
        var start = 0
        while start < raw.count {
            let length = min(65536, raw.count - start)
            block += [0xF4, UInt8((length - 1) & 0xFF), UInt8((length - 1) >> 8)]
            block += raw[start..<(start + length)]
            start += length
        }
        return block
    }

    @Test("fuzz: 20,000 mutated requests decode or are refused with a reason, never crash")
    func fuzz() async throws {
        let cases = try await Self.cases()
        let raws = cases.map(\.raw).filter { !$0.isEmpty }, bodies = cases.map(\.body)
        var mutator = RemoteWriteMutator(seed: 0xF0F0_1234)
        var taken = 0, refused = 0, records = 0, rejections = 0
        for i in 0..<20_000 {
            // Thirds: the compressed body, the protobuf through a literal-only block, the protobuf alone.
            let outcome: Result<RemoteWrite.Decoded, ProtocolError>
            switch i % 3 {
            case 0:
                let body = mutator.mutate(bodies[i % bodies.count], corpus: bodies)
                outcome = Result { () throws(ProtocolError) in try Self.decode(body) }
            case 1:
                let body = Self.literalBlock(mutator.mutate(raws[i % raws.count], corpus: raws))
                outcome = Result { () throws(ProtocolError) in try Self.decode(body) }
            default:
                let raw = mutator.mutate(raws[i % raws.count], corpus: raws)
                outcome = Result { () throws(ProtocolError) in
                    try raw.withUnsafeBufferPointer { b throws(ProtocolError) in try RemoteWrite.decode(b, context: Self.context) }
                }
            }
            switch outcome {
            case .success(let decoded):
                taken += 1
                records += decoded.batch.records.count
                rejections += decoded.batch.rejections.count
                for record in decoded.batch.records {
                    guard case .metric(let m) = record, m.value.isFinite, !m.name.isEmpty, m.timestamp.isRepresentable else {
                        Issue.record("a record that breaks the rules: \(record)")
                        continue
                    }
                }
                for r in decoded.batch.rejections where !r.error.message.hasPrefix("series \(r.line) (") {
                    Issue.record("a refusal without its position: \(r)")
                }
            case .failure(let error):
                refused += 1
                #expect(error.message.hasPrefix("invalid snappy at byte ") || error.message.hasPrefix("invalid protobuf at byte ")
                        || error.message.contains("over the body limit"), "\(error.message)")
            }
        }
        #expect(taken + refused == 20_000)
        #expect(taken > 1000 && refused > 1000 && records > 1000 && rejections > 100, "taken \(taken), refused \(refused), records \(records), rejections \(rejections)")
    }
}
