import Foundation
import Testing
import SluiceTesting

/// `Idempotency-Key` through the real binary: a retry is answered from the first answer and
/// ingests nothing, per tenant, on every ingest route, and across `kill -9` and a restart.
@Suite("Idempotency-Key end to end", .serialized)
struct IdempotencyEndToEndTests {
    static let config = """
        store:
          fsync: always
        auth:
          tokens:
            token-aa: site-a
            token-bb: site-b
            token-admin: admin
        """

    static func serve(_ dir: String) throws -> ServerProcess {
        try ServerProcess(arguments: ["serve", "--config", "\(dir)/sluice.yml", "--http", "127.0.0.1:0", "--data-dir", "\(dir)/data"])
    }

    static func headers(_ token: String, key: String) -> [String: String] {
        ["Authorization": "Bearer \(token)", "Idempotency-Key": key]
    }

    /// `answer` is `first` given again, marked as a replay.
    static func expectReplay(_ answer: ServerProcess.Answer, of first: ServerProcess.Answer, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == first.status, sourceLocation: sourceLocation)
        #expect(answer.body == first.body, sourceLocation: sourceLocation)
        #expect(answer.headers["idempotent-replayed"] == "true", sourceLocation: sourceLocation)
    }

    /// Stored metric values per tenant, read back with `sluice query`.
    static func stored(_ dir: String) async throws -> [String: [Double]] {
        let query = try await SluiceBinary.run(["query", "--data-dir", "\(dir)/data", "--type", "metric"])
        #expect(query.status == 0, "\(query.stderr)")
        var values: [String: [Double]] = [:]
        for line in query.stdout.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            values[object["tenant_id"] as? String ?? "", default: []].append(try #require(object["value"] as? Double))
        }
        return values.mapValues { $0.sorted() }
    }

    @Test("a retried POST is answered as the first time and stored once, across kill -9 and a restart")
    func retriesAcrossCrash() async throws {
        let dir = TestFiles.temporaryDirectory()
        _ = TestFiles.write("\(dir)/sluice.yml", Self.config)
        var server = try Self.serve(dir)
        let batch = """
            {"metric_name":"orders","value":1.5,"timestamp":"2026-11-30T10:00:01Z"}
            {"metric_name":"orders","value":2.5,"timestamp":"2026-11-30T10:00:02Z"}
            {"metric_name":"orders","value":3.5,"timestamp":"2026-11-30T10:00:03Z"}

            """
        let first = try await server.post(batch, contentType: "application/x-ndjson", headers: Self.headers("token-aa", key: "order-batch-1"))
        #expect(first.status == 202)
        #expect(first.body.contains(#""accepted":3"#))
        #expect(first.headers["idempotent-replayed"] == nil)

        let retry = try await server.post(batch, contentType: "application/x-ndjson", headers: Self.headers("token-aa", key: "order-batch-1"))
        Self.expectReplay(retry, of: first)

        // The same key from another tenant is that tenant's own request.
        let other = try await server.post(batch, contentType: "application/x-ndjson", headers: Self.headers("token-bb", key: "order-batch-1"))
        #expect(other.status == 202)
        #expect(other.headers["idempotent-replayed"] == nil)

        // Partly refused: the first answer (400 with the rejected line) is the answer again.
        let mixed = """
            {"metric_name":"orders","value":4.5,"timestamp":"2026-11-30T10:00:04Z"}
            {"metric_name":"orders","value":"many"}

            """
        let partial = try await server.post(mixed, contentType: "application/x-ndjson", headers: Self.headers("token-aa", key: "order-batch-2"))
        #expect(partial.status == 400)
        #expect(partial.rejectedLines == [2])

        // Crash: the keys' receipts are stored with their records.
        try await server.kill9()
        server = try Self.serve(dir)
        #expect(server.stderr.contains("restored 3 idempotency keys"), "\(server.stderr)")
        let afterCrash = try await server.post(batch, contentType: "application/x-ndjson", headers: Self.headers("token-aa", key: "order-batch-1"))
        Self.expectReplay(afterCrash, of: first)
        let partialAgain = try await server.post(mixed, contentType: "application/x-ndjson", headers: Self.headers("token-aa", key: "order-batch-2"))
        Self.expectReplay(partialAgain, of: partial)

        // A graceful restart keeps them too.
        #expect(try await server.terminate() == 0)
        server = try Self.serve(dir)
        let afterRestart = try await server.post(batch, contentType: "application/x-ndjson", headers: Self.headers("token-bb", key: "order-batch-1"))
        Self.expectReplay(afterRestart, of: other)
        #expect(try await server.terminate() == 0)

        let values = try await Self.stored(dir)
        #expect(values["site-a"] == [1.5, 2.5, 3.5, 4.5])
        #expect(values["site-b"] == [1.5, 2.5, 3.5])
    }

    @Test("every ingest protocol honours the key, and a key that is not printable ASCII is refused")
    func protocolsAndBadKeys() async throws {
        let dir = TestFiles.temporaryDirectory()
        _ = TestFiles.write("\(dir)/sluice.yml", Self.config)
        let server = try Self.serve(dir)
        let line = "cpu,host=web1 usage=0.25 1796032800000000000\n"
        let admin = Self.headers("token-admin", key: "influx-7")
        let first = try await server.post(line, path: "/api/v2/write?precision=ns", contentType: "text/plain", headers: admin)
        #expect(first.status == 204)
        let again = try await server.post(line, path: "/api/v2/write?precision=ns", contentType: "text/plain", headers: admin)
        Self.expectReplay(again, of: first)

        let tooLong = String(repeating: "k", count: 201)
        let refused = try await server.post(line, path: "/api/v2/write?precision=ns", contentType: "text/plain",
                                            headers: Self.headers("token-admin", key: tooLong))
        #expect(refused.status == 400)
        #expect(refused.body.contains("invalid_idempotency_key"))
        #expect(refused.body.contains("the limit is 200"))
        #expect(try await server.terminate() == 0)

        let values = try await Self.stored(dir)
        #expect(values[""] == [0.25], "one sample stored, from the first request only")
    }
}
