#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// `sluice tail --server URL`: follows a running server's live stream and redraws the newest
/// closed window of every series once a second (and lists anomalies as they come).
struct ServerTail {
    let host: String
    let port: Int
    let token: String?
    let interactive: Bool
    let limit: Int

    init(url: String, token: String?, interactive: Bool, limit: Int) throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else {
            throw TailError("--server \(url): expected http://HOST:PORT")
        }
        self.host = host
        port = components.port ?? 80
        self.token = token
        self.interactive = interactive
        self.limit = limit
    }

    struct TailError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Row {
        var window: [String: Any]
        var receivedAt: Date
    }

    func run() throws {
        let fd = try connect()
        defer { close(fd) }
        var request = "GET /api/v2/analytics/stream?types=window,anomaly HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: text/event-stream\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }

        var buffer = [UInt8](repeating: 0, count: 65_536)
        var pending = ""
        var headersDone = false
        var rows: [String: Row] = [:]
        var anomalies: [String] = []
        var lastDraw = Date.distantPast
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 250) > 0 {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { throw TailError("the server closed the stream") }
                pending += String(decoding: buffer[0..<n], as: UTF8.self)
                if !headersDone, let end = pending.range(of: "\r\n\r\n") {
                    let status = pending.split(separator: "\r\n").first ?? ""
                    guard status.contains(" 200") else { throw TailError("the server answered \(status)") }
                    pending = String(pending[end.upperBound...])
                    headersDone = true
                }
                while headersDone, let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    // Chunked framing lines are not JSON: only `data:` lines matter.
                    guard let start = line.range(of: "data: ") else { continue }
                    let json = line[start.upperBound...]
                    guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { continue }
                    switch object["type"] as? String {
                    case "window":
                        let key = "\(object["tenant_id"] as? String ?? "-") \(object["metric_name"] as? String ?? "")\(Self.labels(object))|\(object["window"] ?? "")"
                        rows[key] = Row(window: object, receivedAt: Date())
                    case "anomaly":
                        anomalies.append("\(object["timestamp"] ?? "") \(object["tenant_id"] as? String ?? "-") \(object["reason"] ?? "")")
                        if anomalies.count > 5 { anomalies.removeFirst() }
                    default: break
                    }
                }
            }
            if Date().timeIntervalSince(lastDraw) >= 1 {
                lastDraw = Date()
                StandardOutput.write(render(rows, anomalies))
            }
        }
    }

    static func labels(_ object: [String: Any]) -> String {
        guard let labels = object["labels"] as? [String: String], !labels.isEmpty else { return "" }
        return "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }

    func render(_ rows: [String: Row], _ anomalies: [String]) -> String {
        var out = interactive ? "\u{1B}[H\u{1B}[2J" : ""
        out += "sluice tail — http://\(host):\(port) — newest closed window per series\n\n"
        out += "SERIES".padding(40) + " WINDOW" + "END".leftPadding(10) + "COUNT".leftPadding(9) + "RATE/S".leftPadding(9)
            + "MEAN".leftPadding(11) + "P95".leftPadding(11) + "P99".leftPadding(11) + "\n"
        for key in rows.keys.sorted().prefix(limit) {
            let w = rows[key]!.window
            let name = String(key.split(separator: "|").first ?? "")
            let count = (w["count"] as? Double) ?? 0
            let seconds = WindowSeconds.parse(w["window"] as? String ?? "60s")
            let end = (w["end"] as? String).map { String($0.dropFirst(11).prefix(8)) } ?? ""
            out += String(name.prefix(39)).padding(40) + " " + (w["window"] as? String ?? "").padding(6) + end.leftPadding(10)
            out += String(Int(count)).leftPadding(9) + TailRenderer.number(count / seconds).leftPadding(9)
            for k in ["mean", "p95", "p99"] { out += TailRenderer.number((w[k] as? Double) ?? .nan).leftPadding(11) }
            out += "\n"
        }
        if rows.isEmpty { out += "waiting for windows to close…\n" }
        if !anomalies.isEmpty { out += "\nANOMALIES\n" + anomalies.map { "  " + $0 }.joined(separator: "\n") + "\n" }
        return out + (interactive ? "" : "\n")
    }

    private func connect() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else { throw TailError("cannot resolve \(host)") }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0, Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw TailError("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        return fd
    }
}

enum WindowSeconds {
    static func parse(_ label: String) -> Double {
        if label.hasSuffix("ms"), let v = Double(label.dropLast(2)) { return v / 1000 }
        if label.hasSuffix("us"), let v = Double(label.dropLast(2)) { return v / 1e6 }
        if label.hasSuffix("s"), let v = Double(label.dropLast()) { return v }
        return 60
    }
}
