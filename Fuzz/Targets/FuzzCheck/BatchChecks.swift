import SluiceModel
import SluicePipeline

/// What every protocol decoder's batch must satisfy, whatever the input: finite values, tenants
/// that `TenantID` allows, non-empty metric names, and refusals numbered from 1 up to the
/// number of items the request held (`items`, when the decoder counts them).
public func checkBatch(_ batch: DecodedBatch, items: Int?, _ input: UnsafeBufferPointer<UInt8>) {
    for record in batch.records {
        if let tenant = record.tenantID, let problem = TenantID.problem(tenant.utf8) {
            violated("a record's tenant \(tenant.debugDescription) breaks the tenant rules: \(problem)", input)
        }
        switch record {
        case .metric(let m):
            guard m.value.isFinite else { violated("metric \(m.name.debugDescription) has the value \(m.value)", input) }
            guard !m.name.isEmpty else { violated("a metric record without a name", input) }
        case .performance(let p):
            for v in [p.responseTime, p.dbQueryTime, p.memoryUsage] {
                if let v, !v.isFinite { violated("a performance record holds \(v)", input) }
            }
        default:
            break
        }
    }
    for rejection in batch.rejections {
        guard rejection.line >= 1 else { violated("a refusal numbered \(rejection.line)", input) }
        if let items, rejection.line > items { violated("refusal \(rejection.line) of \(items) items", input) }
    }
}
