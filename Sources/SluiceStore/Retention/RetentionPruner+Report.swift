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

        public var removedRecords: Int { removed.values.reduce(0) { $0 + $1.records } }

        mutating func add(_ other: [Key: (records: Int, bytes: Int)]) {
            for (key, value) in other {
                let old = removed[key] ?? (0, 0)
                removed[key] = (old.records + value.records, old.bytes + value.bytes)
            }
        }
    }
}
