import Foundation
import NIOCore

extension ServerTail {
    /// The path `tail --server` starts from: every window the server holds, open ones marked
    /// `partial` (skipped by the feed).
    static let closedWindowsPath = "/api/v2/analytics/aggregate"

    /// Fetches the windows the server has closed so far and offers each to `feed`.
    func fetchClosedWindows(into feed: inout Feed) async throws {
        let body = try await get(Self.closedWindowsPath)
        guard let windows = try? JSONSerialization.jsonObject(with: body) as? [[String: Any]] else {
            throw TailError("GET \(Self.closedWindowsPath): the server's answer is not a JSON array of windows")
        }
        for window in windows where window["type"] as? String == "window" { feed.offer(window: window) }
    }

    /// One `GET` on its own connection: the body of a `200`, or an error naming the status.
    func get(_ path: String) async throws -> Data {
        let channel = try await connect()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: application/json\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        var response: [UInt8] = []
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            for try await buffer in inbound { response += buffer.readableBytesView }
        }
        guard let answer = HTTPAnswer(response) else { throw TailError("GET \(path): the server's answer is not HTTP") }
        guard answer.status == 200 else {
            throw TailError("GET \(path): the server answered \(answer.status) \(String(decoding: answer.body.prefix(200), as: UTF8.self))")
        }
        return Data(answer.body)
    }
}

/// An HTTP/1.1 response read to the end of its connection: status and body (de-chunked).
struct HTTPAnswer {
    var status: Int
    var body: [UInt8]

    init?(_ bytes: [UInt8]) {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self).lowercased()
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("http/"), let status = Int(parts[1]) else { return nil }
        self.status = status
        var rest = Array(bytes[headEnd.upperBound...])
        if head.contains("\r\ntransfer-encoding: chunked") {
            guard let body = Self.dechunked(rest) else { return nil }
            rest = body
        } else if let range = head.range(of: "\r\ncontent-length:"),
                  let length = Int(head[range.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)) {
            guard rest.count >= length else { return nil }
            rest = Array(rest.prefix(length))
        }
        body = rest
    }

    /// The body of a chunked transfer, or `nil` if it was cut short.
    static func dechunked(_ bytes: [UInt8]) -> [UInt8]? {
        var body: [UInt8] = []
        var index = 0
        let crlf: [UInt8] = [13, 10]
        while true {
            guard let lineEnd = bytes[index...].firstRange(of: crlf) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            index = lineEnd.upperBound
            if size == 0 { return body }
            guard bytes.count >= index + size + 2 else { return nil }
            body += bytes[index..<index + size]
            index += size + 2
        }
    }
}
