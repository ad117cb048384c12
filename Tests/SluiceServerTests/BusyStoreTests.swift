import Testing
import SluicePipeline
import SluiceServerTesting
import SluiceTesting

/// Store work (scans, retention plans, fsyncs) runs on the blocking pool: however long it
/// takes, the server's other routes keep answering.
extension BlockingPoolSuites {
    @Suite("A busy store", .serialized, .timeLimit(.minutes(5)))
    struct BusyStoreTests {
        @Test("with every blocking-pool thread held, /healthz, /readyz and /metrics answer; store reads wait their turn, then answer")
        func serverAnswersWhileStoreWorkWaits() async throws {
            let server = try await LiveServer.start()
            let pool = await HeldPool()

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
    }
}
