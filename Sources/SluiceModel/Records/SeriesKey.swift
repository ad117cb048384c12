/// What identifies a series: (tenant, name, labels). A metric record's name is its
/// `metric_name`; a performance record feeds three series; a cache's name keys its cache window.
public struct SeriesKey: Sendable, Hashable, Comparable {
    public var tenantID: String?
    public var name: String
    public var labels: Labels

    public init(tenantID: String?, name: String, labels: Labels = .empty) {
        self.tenantID = tenantID
        self.name = name
        self.labels = labels
    }

    /// The output order of design §3 after window end and length: tenant (platform-wide first),
    /// then series name, then labels.
    public static func < (lhs: SeriesKey, rhs: SeriesKey) -> Bool {
        if lhs.tenantID != rhs.tenantID { return TenantOrder.less(lhs.tenantID, rhs.tenantID) }
        if lhs.name != rhs.name { return lhs.name < rhs.name }
        return lhs.labels < rhs.labels
    }
}

/// Tenants in output order: platform-wide (`nil`) first, then by id.
public enum TenantOrder {
    @inlinable
    public static func less(_ lhs: String?, _ rhs: String?) -> Bool {
        switch (lhs, rhs) {
        case (nil, nil): false
        case (nil, _): true
        case (_, nil): false
        case let (l?, r?): l < r
        }
    }
}
