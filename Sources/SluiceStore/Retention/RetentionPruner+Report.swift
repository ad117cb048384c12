extension RetentionPruner {
    /// What one prune removed (or, for a dry run, would remove), per record type and tenant.
    public struct Report: Sendable {
        public struct Key: Sendable, Hashable, Comparable {
            public var type: String
            public var tenantID: String?
            /// `max_age` or `max_bytes`.
            public var reason: String
            public static func < (l: Key, r: Key) -> Bool {
                (l.reason, l.type, l.tenantID ?? "") < (r.reason, r.type, r.tenantID ?? "")
            }
        }

        /// Records and bytes removed per key; a block's bytes are shared out by record count.
        public var removed: [Key: (records: Int, bytes: Int)] = [:]
        public var deletedSegments: [String] = []
        public var rewrittenSegments: [String] = []
        public var bytesBefore = 0
        public var bytesAfter = 0
        public var dryRun = false
        /// Set when the prune would remove more than half the stored bytes at once and was not
        /// confirmed. A real prune then removed nothing; a dry run still lists what would go.
        public var refusal: MassDeleteRefusal?

        public var removedRecords: Int { removed.values.reduce(0) { $0 + $1.records } }

        /// Records and bytes removed from one tenant's data.
        public func removed(tenant: String) -> (records: Int, bytes: Int) {
            removed.filter { $0.key.tenantID == tenant }.values.reduce((0, 0)) { ($0.0 + $1.records, $0.1 + $1.bytes) }
        }

        mutating func add(_ other: [Key: (records: Int, bytes: Int)]) {
            for (key, value) in other {
                let old = removed[key] ?? (0, 0)
                removed[key] = (old.records + value.records, old.bytes + value.bytes)
            }
        }
    }

    /// A prune that would remove more than half the stored bytes at once: what it would remove.
    /// Callers add how to confirm it (a flag, a parameter, `retention.allow_mass_delete`).
    public struct MassDeleteRefusal: Sendable, Hashable, CustomStringConvertible {
        public var records: Int
        public var bytes: Int
        public var bytesBefore: Int

        public var description: String {
            let percent = bytesBefore > 0 ? bytes * 100 / bytesBefore : 0
            return "the prune would remove \(records) records and \(bytes) of the \(bytesBefore) stored bytes (\(percent)%), more than half at once"
        }
    }
}
