import SluiceModel

/// Who a request speaks for.
public enum Identity: Sendable, Hashable {
    /// Reads everything, writes for any tenant.
    case admin
    /// Writes and reads one tenant's data only.
    case tenant(String)

    /// Whether this identity may see `tenant`'s data.
    func mayRead(_ tenant: String?) -> Bool {
        switch self {
        case .admin: true
        case .tenant(let own): tenant == own
        }
    }
}

/// Maps bearer tokens to identities (`auth.tokens`). Tokens are compared in constant time
/// against every configured token, and never logged.
public struct Authenticator: Sendable {
    private let tokens: [([UInt8], Identity)]

    public init(tokens: [String: String]) {
        self.tokens = tokens.sorted { $0.key < $1.key }.map { (Array($0.key.utf8), $0.value == "admin" ? .admin : .tenant($0.value)) }
    }

    /// No tokens configured: every request is admin, and the server only listens on loopback.
    public var isOpen: Bool { tokens.isEmpty }

    /// The identity of an `Authorization` header value; `nil` when it is missing or unknown.
    public func identify(authorization: String?) -> Identity? {
        if isOpen { return .admin }
        // RFC 9110 §11.1: the scheme is case-insensitive; any run of spaces may follow it.
        // InfluxDB's clients send `Token T`, taken like `Bearer T` (design §10).
        guard let authorization else { return nil }
        let scheme = authorization.prefix(7).lowercased()
        let skip = scheme == "bearer " ? 7 : scheme.hasPrefix("token ") ? 6 : 0
        guard skip > 0, authorization.count > skip else { return nil }
        let presented = Array(authorization.dropFirst(skip).drop { $0 == " " }.utf8)
        var match: Identity?
        for (token, identity) in tokens where Self.constantTimeEqual(token, presented) {
            match = identity
        }
        return match
    }

    /// Takes the same time whatever the contents; only the (public) lengths shortcut.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        let n = min(a.count, b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < n ? a[i] : 0
            let y = i < n ? b[i] : 1
            difference |= x ^ y
        }
        return difference == 0
    }
}
