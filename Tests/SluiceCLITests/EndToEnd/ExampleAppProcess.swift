import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceTesting

/// `sluice-example-app` as a child process: started on a port it chose itself, asked over
/// HTTP, stopped with SIGTERM, and its log read to the end.
final class ExampleAppProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let output: ChildOutput

    /// Starts it and waits until it says where it listens.
    static func start(_ arguments: [String]) async throws -> ExampleAppProcess {
        // Reading its first line blocks: off the cooperative pool.
        try await offThePool { try ExampleAppProcess(arguments: arguments) }
    }

    private init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: SluiceBinary.exampleAppPath)
        process.arguments = ["--http", "127.0.0.1:0"] + arguments
        process.standardInput = FileHandle.nullDevice
        // Its address (stdout) and its log (stderr) in one stream, read until it ends.
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.spawn()
        output = ChildOutput(pipe.fileHandleForReading)
        let marker = "sluice-example-app listening on 127.0.0.1:"
        let started = output.wait { $0.contains(marker) && $0[$0.range(of: marker)!.upperBound...].contains("\n") }
        guard let range = started.range(of: marker), let port = Int(started[range.upperBound...].prefix { $0.isNumber }) else {
            throw ServerProcessError(description: "sluice-example-app did not start: \(started)")
        }
        self.port = port
    }

    /// What it has written so far, stdout and stderr together.
    var log: String { output.text }

    func get(_ path: String) async throws -> (status: Int, body: Data) {
        try await send(URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!))
    }

    func post(_ path: String, json: [String: String], headers: [String: String] = [:]) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = try JSONSerialization.data(withJSONObject: json)
        return try await send(request)
    }

    private func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        var request = request
        // Under `--buffer-policy wait` a request is held while Sluice is down.
        request.timeoutInterval = 120
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// The app's own counts, `GET /stats`.
    func stats() async throws -> AppCounts {
        let (status, body) = try await get("/stats")
        guard status == 200, let counts = AppCounts(json: body) else {
            throw ServerProcessError(description: "GET /stats answered \(status): \(String(decoding: body, as: UTF8.self))")
        }
        return counts
    }

    /// SIGTERM, then the exit status once it has exited and its output has ended.
    func terminate() async throws -> Int32 {
        process.terminate()
        return try await offThePool { [process, output] in
            process.waitUntilExit()
            _ = output.wait { _ in false }
            return process.terminationStatus
        }
    }

    /// The fields of the last `sluice client stopped … retries=…` line: what the client sent,
    /// dropped, saw rejected and retried.
    var clientStatistics: [String: Int]? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("sluice client stopped") && $0.contains("retries=") }) else {
            return nil
        }
        var fields: [String: Int] = [:]
        for word in line.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Int(parts[1]) { fields[String(parts[0])] = value }
        }
        return fields
    }

    /// Stops it if a test ended early (a failed expectation must not leave it running).
    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// The app's `/stats` (design §11).
struct AppCounts: Equatable, CustomStringConvertible {
    var requests: [String: Int]
    var hits: Int
    var misses: Int
    var tokenRequests: Int
    var prompt: Int
    var completion: Int

    init(requests: [String: Int], hits: Int, misses: Int, tokenRequests: Int, prompt: Int, completion: Int) {
        (self.requests, self.hits, self.misses) = (requests, hits, misses)
        (self.tokenRequests, self.prompt, self.completion) = (tokenRequests, prompt, completion)
    }

    init?(json: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let requests = object["requests"] as? [String: Int],
              let items = (object["cache"] as? [String: Any])?["items"] as? [String: Int],
              let tokens = object["tokens"] as? [String: Int] else { return nil }
        self.init(requests: requests, hits: items["hits"] ?? -1, misses: items["misses"] ?? -1,
                  tokenRequests: tokens["requests"] ?? -1, prompt: tokens["prompt"] ?? -1, completion: tokens["completion"] ?? -1)
    }

    var description: String {
        "requests \(requests.sorted { $0.key < $1.key }), cache \(hits) hits \(misses) misses, tokens \(tokenRequests) requests \(prompt) prompt \(completion) completion"
    }
}

/// A child's output, read on a thread of its own until it ends, so the child never blocks on a
/// full pipe; callers wait for what they need to see.
final class ChildOutput: @unchecked Sendable {
    private let condition = NSCondition()
    private var data = Data()
    private var ended = false

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                condition.lock()
                if chunk.isEmpty { ended = true } else { data.append(chunk) }
                condition.broadcast()
                condition.unlock()
                if chunk.isEmpty { return }
            }
        }
    }

    var text: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Blocks until `seen` holds for the output so far, or the output has ended; returns it.
    func wait(until seen: (String) -> Bool) -> String {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let text = String(decoding: data, as: UTF8.self)
            if ended || seen(text) { return text }
            condition.wait()
        }
    }
}
