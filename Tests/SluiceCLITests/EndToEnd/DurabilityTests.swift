import Foundation
import Testing
import SluiceTesting

/// `scripts/durability`, the kill -9 durability run, for 10 cycles: with `store.fsync: always`
/// every acknowledged record is stored exactly once, retried requests carry their
/// `Idempotency-Key`, and no window is stored twice. The script checks the store against its own
/// ledger of unique values, read back with `sluice query`.
@Suite("Durability", .serialized)
struct DurabilityTests {
    @Test("10 kill -9 cycles under fsync: always: nothing acknowledged lost, nothing stored twice")
    func killCycles() async throws {
        let work = TestFiles.temporaryDirectory()
        let script = FixtureLocator.repositoryRoot() + "/scripts/durability"
        let run = try await Python.execute([script, "--cycles", "10", "--clients", "4", "--seed", "7", "--json",
                                            "--binary", SluiceBinary.path, "--data-dir", work])
        let object = try? JSONSerialization.jsonObject(with: run.stdout) as? [String: Any]
        let result = try #require(object, "the script printed no result: \(run.stderr.suffix(2000))")
        func count(_ key: String) -> Int { (result[key] as? Int) ?? -1 }
        #expect(count("acknowledged_records") > 1_000, "the clients got records acknowledged: \(result)")
        #expect(count("lost") == 0, "\(result)")
        #expect(count("stored_twice") == 0, "\(result)")
        #expect(count("stored_unacknowledged") == 0, "\(result)")
        #expect(count("windows") > 0, "windows closed and were stored: \(result)")
        #expect(count("windows_stored_twice") == 0, "\(result)")
        #expect(count("verify_exit_status") == 0, "the store verifies clean: \(result)")
        #expect(count("requests_in_flight_at_kill") > 0, "kills landed while requests were in flight: \(result)")
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
    }
}
