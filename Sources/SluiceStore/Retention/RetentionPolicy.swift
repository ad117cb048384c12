import SluiceConfig
import SluiceModel

/// How long each kind of stored record lives (design §3: a record expires when
/// now − its event time > its max age), per tenant, and how large the store may grow.
public struct RetentionPolicy: Sendable, Hashable {
    public var maxAge: [String: WindowDuration]
    public var tenants: [String: [String: WindowDuration]]
    public var maxBytes: Int64
    /// Whether a prune may remove more than half the stored bytes without being confirmed.
    public var allowMassDelete: Bool

    public init(_ c: Configuration.Retention) {
        maxAge = c.maxAge
        tenants = c.tenants
        maxBytes = c.maxBytes
        allowMassDelete = c.allowMassDelete
    }

    public func maxAge(_ kind: StoredRecord.Kind, tenant: String?) -> WindowDuration? {
        let type = kind.retentionType
        if let tenant, let override = tenants[tenant]?[type] { return override }
        return maxAge[type]
    }

    /// Whether a record of this kind and tenant, at `time`, has expired at `now`.
    public func isExpired(_ kind: StoredRecord.Kind, tenant: String?, time: Int64, now: Timestamp) -> Bool {
        guard let age = maxAge(kind, tenant: tenant) else { return false }
        return now.microseconds - time > age.microseconds
    }
}
