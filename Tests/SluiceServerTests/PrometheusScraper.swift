import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceTesting

/// A real Prometheus (Debian `prometheus`, installed by `scripts/setup --tests`) on a free
/// loopback port and a temporary data directory, scraping a small exporter the test runs and
/// remote-writing what it scrapes. Stopped by its PID.
final class PrometheusScraper: Sendable {
    let process: Process
    let url: String
    let directory: String

    /// Starts it with `configuration` (a `prometheus.yml`) and waits until it says it is
    /// ready (a condition read from its log, never a deadline).
    static func start(configuration: String) async throws -> PrometheusScraper {
        let executable = try TestPeer.path("prometheus")
        let directory = TestFiles.temporaryDirectory("sluice-prometheus")
        let config = directory + "/prometheus.yml"
        try configuration.write(toFile: config, atomically: true, encoding: .utf8)
        for _ in 0..<5 {
            let port = try TestPeer.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["--config.file=\(config)", "--storage.tsdb.path=\(directory)/data", "--web.listen-address=127.0.0.1:\(port)",
                                 "--log.level=info"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            let log = Pipe()
            process.standardError = log
            try process.spawn()
            let prometheus = PrometheusScraper(process: process, url: "http://127.0.0.1:\(port)", directory: directory)
            let ready = try await offThePool { log.fileHandleForReading.waitForLog("Server is ready to receive web requests.") }
            // From here on its log is read and dropped, so it never blocks on a full pipe.
            log.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
            if ready { return prometheus }
            // The port was taken between asking and binding (it exited): another one.
            log.fileHandleForReading.readabilityHandler = nil
            prometheus.stop(removing: false)
        }
        throw TestPeer.Failure(description: "prometheus did not start on a free port")
    }

    private init(process: Process, url: String, directory: String) {
        self.process = process
        self.url = url
        self.directory = directory
    }

    /// Raw samples of the series `selector` matches over the last `range`, as Prometheus
    /// stored them: labels (with `__name__`) → [(milliseconds, value)].
    func samples(_ selector: String, range: String = "1h") async throws -> [[String: String]: [(Int64, Double)]] {
        let (status, body) = try await TestPeer.get(url + TestPeer.query("/api/v1/query", [("query", "\(selector)[\(range)]")]))
        guard status == 200, let envelope = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let result = (envelope["data"] as? [String: Any])?["result"] as? [[String: Any]] else {
            throw TestPeer.Failure(description: "prometheus answered \(status): \(body.prefix(500))")
        }
        var out: [[String: String]: [(Int64, Double)]] = [:]
        for series in result {
            let labels = series["metric"] as? [String: String] ?? [:]
            out[labels] = (series["values"] as? [[Any]] ?? []).compactMap { pair in
                guard let t = pair.first as? NSNumber, let v = (pair.last as? String).flatMap(Double.init) else { return nil }
                // Seconds with millisecond decimals: rounded, as they were milliseconds.
                return (Int64((t.doubleValue * 1000).rounded()), v)
            }
        }
        return out
    }

    /// SIGTERM by PID, then waits for the exit; removes its directory.
    func stop(removing: Bool = true) {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        if removing { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// A Python `http.server` exporter on a free loopback port: it serves `/metrics` with values
/// that change on every scrape for `scrapes` scrapes, then answers 503, so that Prometheus'
/// record of what it scraped stops growing and its series go stale. Stopped by its PID.
final class ScrapedExporter: Sendable {
    let process: Process
    let port: Int

    static let script = """
        import http.server, sys
        limit, served = int(sys.argv[1]), 0
        temperatures = [21.5, -4.25, 30.75, 0.125, 18.0]
        class Exporter(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                global served
                if self.path != "/metrics" or served >= limit:
                    self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers(); return
                served += 1
                body = ("# TYPE sluice_rw_requests_total counter\\n"
                        'sluice_rw_requests_total{route="/a"} %s\\n' % (served * 3)
                        + 'sluice_rw_requests_total{route="/b"} %s\\n' % (served * 0.5)
                        + "# TYPE sluice_rw_temperature gauge\\n"
                        + "sluice_rw_temperature %s\\n" % temperatures[served % len(temperatures)]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args): pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Exporter)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    static func start(scrapes: Int) async throws -> ScrapedExporter {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestPeer.path("python3"))
        process.arguments = ["-c", script, "\(scrapes)"]
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let out = Pipe()
        process.standardOutput = out
        try process.spawn()
        let line = try await offThePool { () -> String in
            var text = ""
            while !text.contains("\n") {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw TestPeer.Failure(description: "the exporter did not start: \(line)")
        }
        return ScrapedExporter(process: process, port: port)
    }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// SIGKILL by PID: it keeps nothing, and a child of the test runner may have SIGTERM
    /// ignored (the runner's signal handling is inherited).
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
