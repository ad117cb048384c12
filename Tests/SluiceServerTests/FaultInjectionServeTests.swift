#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import SluiceModel
import SluicePipeline
import SluiceStore
import SluiceServerTesting
import SluiceTesting

/// Injected I/O errors (`FileFaults`) under `sluice serve`, as a client sees them: the full-disk
/// test's promises, for EIO as well as ENOSPC and at each step of writing a segment, without a
/// tmpfs or root.
@Suite("Injected I/O errors under serve", .serialized, .timeLimit(.minutes(3)))
struct FaultInjectionServeTests {
    static let steps: [FileFault.Operation] = [.write, .shortWrite, .fsync]

    @Test("a write step that fails answers 507 naming the reason, keeps reads up, and writes again by itself once the fault clears; every accepted record is stored once",
          arguments: steps, [EIO, ENOSPC])
    func failingStep(operation: FileFault.Operation, error code: Int32) async throws {
        let server = try await LiveServer.start("store:\n  fsync: always\n  flush_interval: 100ms\n")
        defer { FileFaults.clear(under: server.dataDirectory) }
        let reason = String(cString: strerror(code))
        func post(_ name: String, _ count: Int, second: Int) async throws -> LiveServer.Reply {
            try await server.request("POST", "/api/v2/analytics/metrics", body: DiskFullTests.batch(name, count: count, second: second),
                                     contentType: "application/x-ndjson")
        }

        #expect(try await post("before", 50, second: 0).status == 202)
        await server.server.state.storeStatistics!.wait(records: 50)

        let fault = FileFaults.arm(FileFault(operation, .openSegment, errno: code, under: server.dataDirectory))
        // fsync always: the request waits for its records to be durable, and hears why they are not.
        let during = try await post("during", 20, second: 1)
        #expect(during.status == 507)
        #expect(during.body.contains(reason), "\(during.body)")
        #expect(fault.fired > 0)
        await server.server.state.storeHealth!.wait(failing: true)
        let ready = try await server.request("GET", "/readyz")
        #expect(ready.status == 503)
        #expect(ready.body.contains(reason), "\(ready.body)")
        let refused = try await post("refused", 10, second: 2)
        #expect(refused.status == 507)
        #expect(refused.body.contains("nothing in the request was accepted"), "\(refused.body)")
        let read = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=t&metric=before")
        #expect(read.status == 200)
        #expect((read.json as? [[String: Any]])?.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 50, "\(read.body)")

        // The fault clears: the held records are written and ingest resumes, without a restart.
        fault.clear()
        await server.server.state.storeHealth!.wait(failing: false)
        #expect(try await server.request("GET", "/readyz").status == 200)
        #expect(try await post("after", 50, second: 3).status == 202)
        try await server.stop()

        let directory = try DataDirectory(path: server.dataDirectory, create: false)
        var stored: [String: Int] = [:]
        for case .record(.metric(let m)) in try StoreReader(directory: directory).records(StoreQuery(kinds: [.metric])) {
            stored[m.name, default: 0] += 1
        }
        #expect(stored == ["before": 50, "during": 20, "after": 50], "the 507'd batch was held and written once; the refused one never taken")
        for segment in try directory.segments() {
            #expect(segment.sealed)
            #expect(try segment.scan(verify: true).damage == nil, "\(segment.name)")
        }
        #expect(try directory.recoverOpenSegments().isEmpty, "nothing for the next start to recover")
    }
}
