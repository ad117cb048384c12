import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceTesting

/// `sluice serve` as a child process on ports it chose itself, with what tests do to it:
/// POST records, write to its TCP source, read its counters, and stop it with SIGTERM or kill -9.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let http: Int
    let tcp: Int?
    private let errors = Mutexed(Data())

    /// Starts it and waits until it says where it serves.
    init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: SluiceBinary.path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: FixtureLocator.repositoryRoot())
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.spawn()
        var started = ""
        while !started.contains("serving on") || !started.contains("\n") {
            let chunk = err.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw ServerProcessError(description: "serve exited: \(started)") }
            started += String(decoding: chunk, as: UTF8.self)
        }
        errors.set(Data(started.utf8))
        let errors = self.errors
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            errors.update { $0.append(data) }
        }
        func port(after marker: String) -> Int? {
            guard let range = started.range(of: marker) else { return nil }
            return Int(started[range.upperBound...].prefix { $0.isNumber })
        }
        guard let http = port(after: "http://127.0.0.1:") else { throw ServerProcessError(description: "no HTTP port in: \(started)") }
        self.http = http
        tcp = port(after: "tcp 127.0.0.1:")
    }

    var stderr: String { String(decoding: errors.get(), as: UTF8.self) }

    struct Answer {
        var status: Int
        var body: String
        /// The response's headers, by lower-cased name.
        var headers: [String: String] = [:]
        /// The `line` of each rejection in the body.
        var rejectedLines: [Int] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let rejected = object["rejected"] as? [[String: Any]] else { return [] }
            return rejected.compactMap { $0["line"] as? Int }
        }
    }

    func post(_ body: String, path: String = "/api/v2/analytics/metrics", contentType: String, headers: [String: String] = [:]) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(http)\(path)")!)
        request.httpMethod = "POST"
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(body.utf8)
        request.timeoutInterval = 120
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] { fields["\(name)".lowercased()] = "\(value)" }
        return Answer(status: http?.statusCode ?? 0, body: String(decoding: data, as: UTF8.self), headers: fields)
    }

    func get(_ path: String) async throws -> String {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(http)\(path)")!)
        request.timeoutInterval = 120
        let (data, _) = try await URLSession.shared.data(for: request)
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `bytes` to the TCP source and closes the connection (blocking: call off the pool).
    func sendTCP(_ bytes: [UInt8]) throws {
        guard let tcp else { throw ServerProcessError(description: "no TCP source") }
        try LoopbackSockets.sendTCP(port: tcp, bytes)
    }

    /// Waits until the server has counted `lines` records and rejected lines together (its
    /// `/metrics`), asking again each time it answers.
    func waitForCounted(_ lines: Int) async throws {
        while true {
            let text = try await get("/metrics")
            var total = 0.0
            for line in text.split(separator: "\n") where line.hasPrefix("sluice_records_in_total{") || line.hasPrefix("sluice_ingest_errors_total{") {
                total += Double(line.split(separator: " ").last ?? "") ?? 0
            }
            if Int(total) >= lines { return }
            try Task.checkCancellation()
        }
    }

    /// SIGTERM, then the exit status.
    func terminate() async throws -> Int32 {
        process.terminate()
        return try await offThePool { [process] in
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// `kill -9`, then wait for it to be gone.
    func kill9() async throws {
        Foundation.kill(process.processIdentifier, SIGKILL)
        try await offThePool { [process] in process.waitUntilExit() }
    }
}

struct ServerProcessError: Error, CustomStringConvertible {
    var description: String
}

extension Mutexed {
    func update(_ body: (inout T) -> Void) {
        var v = get()
        body(&v)
        set(v)
    }
}
