import Hummingbird
import SluiceModel

/// A request's parameters as Prometheus reads them: the URL's query and, for a POST with
/// `application/x-www-form-urlencoded`, the body (as Grafana sends long queries).
struct PromParameters: Sendable {
    private var values: [(String, String)] = []

    /// Reads a form body of at most `maxBodyBytes` and the query string.
    init(_ request: Request, maxBodyBytes: Int) async throws {
        let form = request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
        if request.method == .post, form {
            // The body's values come first, as Go's `Request.FormValue` reads them.
            let body = try await request.body.collect(upTo: maxBodyBytes)
            values = Self.decode(String(buffer: body))
        }
        values += Self.decode(request.uri.query ?? "")
    }

    init(_ pairs: [(String, String)]) { values = pairs }

    /// The first value of `name`.
    subscript(_ name: String) -> String? { values.first { $0.0 == name }?.1 }

    /// Every value of `name` (`match[]` repeats).
    func all(_ name: String) -> [String] { values.filter { $0.0 == name }.map(\.1) }

    /// `a=1&b=x+y&c=%2F`: pairs, `+` as a space, percent escapes decoded.
    static func decode(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (unescape(parts[0]), parts.count > 1 ? unescape(parts[1]) : "")
        }
    }

    private static func unescape(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let b = utf8.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), utf8.count >= 2,
                      let hex = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(hex)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Typed parameters

    /// The two times Prometheus' own clients send for "no bound".
    private static let unbounded = ["-292273086-05-16T16:47:06Z", "292277025-08-18T07:12:54.999999999Z",
                                    "-9223372036854775.808", "9223372036854775.807"]

    /// A time: RFC 3339 or Unix seconds, years 0000 to 9999; `nil` when absent or one of the
    /// "no bound" values clients send.
    func time(_ name: String) throws(APIError) -> PromQL.Micros? {
        guard let text = self[name], !Self.unbounded.contains(text) else { return nil }
        switch Timestamp.parseUserInput(text, name: name) {
        case .success(let t): return t.microseconds
        case .failure(let problem): throw .badData("invalid parameter \"\(name)\": \(problem.description)")
        }
    }

    /// A duration: `5m`, `1h30m` or seconds (`15`, `0.5`).
    func duration(_ name: String) throws(APIError) -> PromQL.Micros? {
        guard let text = self[name] else { return nil }
        guard let d = PromDuration.parseParameter(text) else {
            throw .badData("invalid parameter \"\(name)\": cannot parse \"\(text)\" to a valid duration (such as 15s, 1m or 30, at most 100 years)")
        }
        return d
    }

    /// `limit`: a non-negative integer, 0 for none.
    func limit() throws(APIError) -> Int? {
        guard let text = self["limit"] else { return nil }
        guard let n = Int(text), n >= 0 else { throw .badData("invalid parameter \"limit\": \"\(text)\" is not a non-negative integer") }
        return n == 0 ? nil : n
    }

    /// `match[]` selectors, parsed; each must be a plain selector.
    func matchers() throws(APIError) -> [PromQL.Selector] {
        try all("match[]").map { (text: String) throws(APIError) -> PromQL.Selector in
            let parsed: PromQL.Expression
            do throws(APIError) {
                parsed = try PromQL.Parser.parse(text)
            } catch {
                let prefix = "invalid parameter \"query\""
                guard error.detail.hasPrefix(prefix) else { throw error }
                throw .badData("invalid parameter \"match[]\"" + error.detail.dropFirst(prefix.count))
            }
            guard case .selector(let s) = parsed, s.offset == 0 else {
                throw .badData("invalid parameter \"match[]\": \"\(text)\" is not a series selector such as cpu{host=\"a\"}")
            }
            return s
        }
    }
}
