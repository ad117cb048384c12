import Foundation
import Testing
import SluiceServerTesting
import SluiceTesting

/// Every ingest route takes `Content-Encoding: gzip`, as OTLP exporters, Influx clients and
/// HTTP client libraries send it. Bodies are compressed by Python's `gzip`, not by Sluice.
@Suite("gzip request bodies")
struct GzipIngestTests {
    /// POSTs `body` from Python, gzip-compressed (or cut short), and prints the status and answer.
    static let poster = """
        import gzip, sys, urllib.request, urllib.error
        url, body, mode = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
        data = gzip.compress(body)
        encoding = "gzip"
        if mode == "truncated": data = data[:len(data) // 2]
        if mode == "brotli": encoding = "br"
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/x-ndjson", "Content-Encoding": encoding})
        try:
            with urllib.request.urlopen(request) as response:
                print(response.status); print(response.read().decode())
        except urllib.error.HTTPError as error:
            print(error.code); print(error.read().decode())
        """

    func post(_ server: LiveServer, _ body: String, mode: String = "whole") async throws -> (Int, String) {
        let outcome = try await TestPeer.run(try TestPeer.path("python3"), ["-c", Self.poster, "http://127.0.0.1:\(server.bound.http!)/api/v2/analytics/metrics", body, mode])
        let lines = outcome.stdout.split(separator: "\n", maxSplits: 1).map(String.init)
        guard outcome.status == 0, lines.count == 2, let status = Int(lines[0]) else { throw TestPeer.Failure(description: "python3: \(outcome.stderr)") }
        return (status, lines[1])
    }

    @Test("a gzip NDJSON body is taken whole; a corrupt one is 400 with the reason, an unknown encoding 415")
    func gzipBodies() async throws {
        let server = try await LiveServer.start()
        let lines = (1...200).map { #"{"metric_name":"lat","value":\#($0),"tenant_id":"g","timestamp":"2030-01-01T00:00:\#(String(format: "%02d", $0 % 60))Z"}"# }
        let whole = try await post(server, lines.joined(separator: "\n"))
        #expect(whole.0 == 202)
        #expect(whole.1.contains("\"accepted\":200"))
        let truncated = try await post(server, lines.joined(separator: "\n"), mode: "truncated")
        #expect(truncated.0 == 400)
        #expect(truncated.1.contains("gzip"))
        let brotli = try await post(server, lines[0], mode: "brotli")
        #expect(brotli.0 == 415)
        #expect(brotli.1.contains("Content-Encoding br"))
        let windows = try await server.request("GET", "/api/v2/analytics/aggregate?tenant=g&metric=lat").json as? [[String: Any]]
        #expect(windows?.first?["count"] as? Int == 200)
        #expect(windows?.first?["sum"] as? Double == Double((1...200).reduce(0, +)))
        try await server.stop()
    }
}
