import Testing
import SluicePipeline
import SluiceStore
import SluiceServerTesting
import SluiceTesting

/// Store work (scans, retention plans, compaction) runs on the blocking pool: however long it
/// takes, the server's other routes keep answering, and the segment writer, on a thread of its
/// own, keeps storing.
@Suite("A busy store", .serialized, .timeLimit(.minutes(5)))
struct BusyStoreTests {
    @Test("with every blocking-pool thread held, /healthz, /readyz and /metrics answer; store reads wait their turn, then answer")
    func serverAnswersWhileStoreWorkWaits() async throws {
        let server = try await LiveServer.start()
        let pool = await HeldPool(server.blockingPool)

        let answered = Watched(0)
        let reads = ["/api/v2/analytics/anomalies", "/api/v2/analytics/aggregate", "/widgets/retention-policy-manager?fragment=1"].map { path in
            Task {
                let reply = try await server.request("GET", path)
                answered.update { $0 += 1 }
                return reply.status
            }
        }
        let dryRun = Task {
            let reply = try await server.request("POST", "/api/v2/analytics/retention/apply?dry_run=true")
            answered.update { $0 += 1 }
            return reply.status
        }

        #expect(try await server.request("GET", "/healthz").status == 200)
        #expect(try await server.request("GET", "/readyz").status == 200)
        #expect(try await server.request("GET", "/metrics").status == 200)
        #expect(answered.value == 0, "store reads wait for a pool thread")

        await pool.release()
        for read in reads { #expect(try await read.value == 200) }
        #expect(try await dryRun.value == 200)
        try await server.stop()
    }
    @Test("each server has a blocking pool of its own: while one's pool is held, another stores and reads")
    func poolsAreTheirOwn() async throws {
        let busy = try await LiveServer.start()
        // fsync always: ingest answers once the record is durable.
        let other = try await LiveServer.start("store:\n  fsync: always\n")
        let pool = await HeldPool(busy.blockingPool)

        // Answered 202 only once the record is durable: the other server's writer ran.
        let write = try await other.request("POST", "/api/v2/analytics/metrics", body: #"{"metric_name":"m","value":2,"tenant_id":"t","timestamp":"2030-01-01T00:00:00Z"}"#)
        #expect(write.status == 202, "\(write.body)")
        let read = try await other.request("GET", "/api/v2/analytics/aggregate")
        #expect(read.status == 200, "\(read.body)")

        await pool.release()
        try await busy.stop()
        try await other.stop()
    }
    @Test("with every thread of a server's blocking pool held, ingest is still stored and acknowledged: the segment writer has a thread of its own")
    func writesDoNotWaitForThePool() async throws {
        // fsync always: ingest answers 202 once the record is durable.
        let server = try await LiveServer.start("store:\n  fsync: always\n")
        let pool = await HeldPool(server.blockingPool)
        for minute in 0..<3 {
            let write = try await server.request("POST", "/api/v2/analytics/metrics",
                                                 body: #"{"metric_name":"m","value":1,"tenant_id":"t","timestamp":"2030-01-01T00:0\#(minute):00Z"}"#)
            #expect(write.status == 202, "\(write.body)")
        }
        await pool.release()
        try await server.stop()
        let stored = try StoreReader(directory: DataDirectory(path: server.dataDirectory, create: false)).records(StoreQuery(kinds: [.metric]))
        #expect(stored.count == 3)
    }
}
