import Foundation
import Testing
import SluiceModel
import SluicePipeline
import SluiceStore
import SluiceServerTesting
import SluiceTesting

/// A full disk under `sluice serve`: on a small tmpfs the test mounts (CI runs as root).
@Suite("Disk full", .serialized, .timeLimit(.minutes(3)))
struct DiskFullTests {
    /// A 1 MiB tmpfs at a new directory; unmounted by `unmount`.
    static func mountSmallDisk() throws -> String {
        let directory = TestFiles.temporaryDirectory("sluice-full")
        let mount = try Self.command("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory])
        guard mount == 0 else {
            throw DiskError("mounting a tmpfs at \(directory) failed (status \(mount)); these tests need root, as CI has")
        }
        return directory
    }

    static func unmount(_ directory: String) {
        _ = try? Self.command("/bin/umount", ["-l", directory])
    }

    static func command(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.spawn()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Writes a file until the disk refuses more; returns its path.
    static func fill(_ directory: String) -> String {
        let path = directory + "/filler"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let chunk = [UInt8](repeating: 0x55, count: 4_096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        close(fd)
        return path
    }

    struct DiskError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Records that compress badly (a random label each), so a batch needs more room than
    /// the slack in the last page of a segment file.
    static func batch(_ name: String, count: Int, second: Int) -> String {
        var random = SystemRandomNumberGenerator()
        return (0..<count).map { i in
            let id = String(random.next(), radix: 16) + String(random.next(), radix: 16)
            return #"{"metric_name":"\#(name)","value":\#(Double(random.next() % 1_000_000) / 7),"labels":{"id":"\#(id)"},"tenant_id":"t","timestamp":"2030-01-01T00:00:\#(String(format: "%02d", second))Z"}"#
        }.joined(separator: "\n")
    }

    @Test("a full disk answers 507 at once and keeps reads up; freeing space resumes writes without a restart; nothing acknowledged is lost",
          arguments: ["always", "interval"])
    func fullDisk(fsync: String) async throws {
        let disk = try Self.mountSmallDisk()
        defer { Self.unmount(disk) }
        let server = try await LiveServer.start("store:\n  fsync: \(fsync)\n  flush_interval: 100ms\n", dataDirectory: disk + "/data")
        func post(_ name: String, _ count: Int, second: Int) async throws -> LiveServer.Reply {
            try await server.request("POST", "/api/v2/analytics/metrics", body: Self.batch(name, count: count, second: second), contentType: "application/x-ndjson")
        }
        var acknowledged: [String: Int] = [:]

        let before = try await post("before", 50, second: 0)
        #expect(before.status == 202)
        acknowledged["before"] = 50
        await server.server.state.storeStatistics!.wait(records: 50)

        let filler = Self.fill(disk)
        // The writer finds the disk full on this batch: with fsync always the request waits for
        // it and hears 507 at once; with fsync interval it was answered 202 before the write.
        // With fsync always, a write of the server's own (a checkpoint, a closed window) may
        // find the disk full first: then the batch is refused whole, and must not be stored.
        let during = try await post("during", 2_000, second: 1)
        var held = false
        if fsync == "always" {
            #expect(during.status == 507)
            #expect(during.body.contains("No space left on device"), "\(during.body)")
            held = during.body.contains("held in memory")
            #expect(held || during.body.contains("nothing in the request was accepted"), "\(during.body)")
        } else {
            #expect(during.status == 202)
            acknowledged["during"] = 2_000
        }
        await server.server.state.storeHealth!.wait(failing: true)
        let ready = try await server.request("GET", "/readyz")
        #expect(ready.status == 503)
        #expect(ready.body.contains("No space left on device"))
        // New records are refused whole while the disk is full; reads go on.
        let refused = try await post("refused", 10, second: 2)
        #expect(refused.status == 507)
        #expect(refused.body.contains("nothing in the request was accepted"))
        #expect(try await server.request("GET", "/healthz").status == 200)
        let read = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=t&metric=before")
        #expect(read.status == 200)
        #expect((read.json as? [[String: Any]])?.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 50, "\(read.body)")

        // Space comes back: writes resume by themselves.
        try FileManager.default.removeItem(atPath: filler)
        await server.server.state.storeHealth!.wait(failing: false)
        #expect(try await server.request("GET", "/readyz").status == 200)
        let after = try await post("after", 50, second: 3)
        #expect(after.status == 202)
        acknowledged["after"] = 50
        try await server.stop()

        // Everything answered 202 is stored, exactly once; the refused batch is not.
        var stored: [String: Int] = [:]
        for case .record(.metric(let m)) in try StoreReader(directory: DataDirectory(path: disk + "/data", create: false)).records(StoreQuery(kinds: [.metric])) {
            stored[m.name, default: 0] += 1
        }
        for (name, count) in acknowledged { #expect(stored[name] == count, "\(name): \(stored[name] ?? 0) of \(count) stored") }
        #expect(stored["refused"] == nil)
        // With fsync always a batch answered "held" was written once space returned; one
        // refused whole was not.
        if fsync == "always" { #expect(stored["during"] == (held ? 2_000 : nil), "held: \(held)") }
        #expect(try DataDirectory(path: disk + "/data", create: false).recoverOpenSegments().isEmpty, "no torn tail left behind")
    }

    @Test("a shutdown while the disk is still full ends the server with the reason and how much was not stored, leaving no torn tail")
    func shutdownWhileFull() async throws {
        let disk = try Self.mountSmallDisk()
        defer { Self.unmount(disk) }
        let server = try await LiveServer.start("store:\n  flush_interval: 100ms\n", dataDirectory: disk + "/data")
        _ = Self.fill(disk)
        #expect(try await server.request("POST", "/api/v2/analytics/metrics", body: Self.batch("lost", count: 2_000, second: 0),
                                         contentType: "application/x-ndjson").status == 202)
        await server.server.state.storeHealth!.wait(failing: true)
        await #expect {
            try await server.stop()
        } throws: { error in
            "\(error)".contains("No space left on device") && "\(error)".contains("could not be stored")
        }
        #expect(try DataDirectory(path: disk + "/data", create: false).recoverOpenSegments().isEmpty, "no torn tail left behind")
    }
}
