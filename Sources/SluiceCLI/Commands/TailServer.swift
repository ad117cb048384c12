import AsyncAlgorithms
import Foundation
import NIOCore
import NIOPosix

/// `sluice tail --server URL`: starts with the newest closed window of every series the server
/// holds, then follows its live stream and redraws once a second (and lists anomalies as they
/// come).
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

    /// What the loop reacts to: bytes from the server, a redraw tick, the end of the stream.
    enum Event: Sendable {
        case bytes(ByteBuffer)
        case tick
        case end
    }

    /// Subscribes to the live stream, then fetches the closed windows the server already holds
    /// (subscribing first leaves no gap; a window found both ways is shown once), and redraws
    /// every second of `clock` until the server closes the stream (an error: `tail` follows a
    /// server until stopped). With `once`, prints the closed windows and returns instead. The
    /// socket is read on NIO's event loop, so no thread is held while the stream is quiet.
    func run<C: Clock>(clock: C, once: Bool = false) async throws where C.Duration == Duration {
        if once {
            var feed = Feed()
            try await fetchClosedWindows(into: &feed)
            StandardOutput.write(render(feed.rows, feed.anomalies, once: true))
            return
        }
        let channel = try await connect()
        var request = "GET /api/v2/analytics/stream?types=window,anomaly HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: text/event-stream\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            let events = merge(chain(inbound.map { Event.bytes($0) }, [Event.end].async),
                               AsyncTimerSequence(interval: .seconds(1), clock: clock).map { _ in Event.tick })
            var feed = Feed()
            var started = false
            for try await event in events {
                switch event {
                case .bytes(let buffer):
                    try feed.receive(String(buffer: buffer))
                    // The server subscribes before it answers: from its answer on, the stream
                    // holds every window that closes, so the windows closed before are fetched now.
                    if !started, feed.subscribed {
                        started = true
                        try await fetchClosedWindows(into: &feed)
                        StandardOutput.write(render(feed.rows, feed.anomalies))
                    }
                case .tick:
                    if started { StandardOutput.write(render(feed.rows, feed.anomalies)) }
                case .end: throw TailError("the server closed the stream")
                }
            }
        }
    }

    func connect() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        } catch {
            throw TailError("cannot connect to \(host):\(port): \(Self.reason(error))")
        }
    }

    /// Why a connection failed, in the system's words rather than NIO's whole error.
    static func reason(_ error: any Error) -> String {
        guard let failure = error as? NIOConnectionError else { return "\(error)" }
        if let io = failure.connectionErrors.last?.error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if failure.connectionErrors.isEmpty, failure.dnsAError != nil || failure.dnsAAAAError != nil { return "cannot resolve \(failure.host)" }
        return "\(error)"
    }

    /// What the stream has said so far: the response head, then the newest window of each
    /// series and the last anomalies. Fed text as it arrives, and the closed windows fetched
    /// when it starts.
    struct Feed {
        private var pending = ""
        private var headersDone = false
        private(set) var rows: [String: Row] = [:]
        private(set) var anomalies: [String] = []

        /// Whether the server has answered the subscription (so it is streaming to it).
        var subscribed: Bool { headersDone }

        mutating func receive(_ text: String) throws {
            pending += text
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
                    offer(window: object)
                case "anomaly":
                    anomalies.append("\(object["timestamp"] ?? "") \(object["tenant_id"] as? String ?? "-") \(object["reason"] ?? "")")
                    if anomalies.count > 5 { anomalies.removeFirst() }
                default: break
                }
            }
        }

        /// Shows a closed window unless its series already shows a later one. A window offered
        /// twice (fetched and streamed) is one row; an open (`partial`) window is not shown.
        mutating func offer(window object: [String: Any]) {
            if object["partial"] as? Bool == true { return }
            let key = "\(object["tenant_id"] as? String ?? "-") \(object["metric_name"] as? String ?? "")\(ServerTail.labels(object))|\(object["window"] ?? "")"
            if let shown = rows[key]?.window["end"] as? String, let end = object["end"] as? String,
               Self.instant(shown) > Self.instant(end) { return }
            rows[key] = Row(window: object, receivedAt: Date())
        }

        /// An RFC 3339 time of the server's output, comparable with another.
        static func instant(_ text: String) -> Double {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text)?.timeIntervalSince1970 ?? 0
        }
    }

    static func labels(_ object: [String: Any]) -> String {
        guard let labels = object["labels"] as? [String: String], !labels.isEmpty else { return "" }
        return "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }

    func render(_ rows: [String: Row], _ anomalies: [String], once: Bool = false) -> String {
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
        if rows.isEmpty { out += once ? "no closed windows yet\n" : "waiting for windows to close…\n" }
        if !anomalies.isEmpty { out += "\nANOMALIES\n" + anomalies.map { "  " + $0 }.joined(separator: "\n") + "\n" }
        return out + (interactive ? "" : "\n")
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
