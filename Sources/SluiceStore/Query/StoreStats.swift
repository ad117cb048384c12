import SluiceModel

/// What a data directory holds, per record type and tenant, from block summaries alone.
public struct StoreStats: Sendable {
    public struct Key: Sendable, Hashable, Comparable {
        public var type: String
        public var tenantID: String?
        public static func < (l: Key, r: Key) -> Bool {
            l.type != r.type ? l.type < r.type : TenantOrder.less(l.tenantID, r.tenantID)
        }
    }

    public struct Row: Sendable {
        public var records = 0
        /// Block bytes shared out by record count (a block holds several types and tenants).
        public var bytes = 0.0
        public var minTime = Int64.max
        public var maxTime = Int64.min
    }

    public var rows: [Key: Row] = [:]
    public var segments = 0
    public var blocks = 0
    public var fileBytes = 0

    public init(directory: DataDirectory) throws(StoreError) {
        for segment in try directory.segments() {
            guard let scan = try? segment.scan(verify: false) else { continue }
            segments += 1
            fileBytes += scan.fileLength
            blocks += scan.blocks.count
            for block in scan.blocks {
                let perRecord = Double(block.length) / Double(max(1, block.recordCount))
                for e in block.summary.entries {
                    let key = Key(type: e.kind.typeName, tenantID: e.tenantID)
                    var row = rows[key] ?? Row()
                    row.records += Int(e.count)
                    row.bytes += perRecord * Double(e.count)
                    row.minTime = min(row.minTime, e.minTime)
                    row.maxTime = max(row.maxTime, e.maxTime)
                    rows[key] = row
                }
            }
        }
    }
}
