import Testing
import SluiceModel
@testable import SluiceCluster

@Suite("Cluster partitioning and payloads")
struct PartitioningTests {
    @Test("a tenant always maps to the same partition and subject, and subjects map back")
    func partitions() {
        let partitioning = Partitioning(partitions: 16)
        var used = Set<Int>()
        for i in 0..<200 {
            let p = partitioning.partition(tenant: "tenant-\(i)")
            #expect(p == partitioning.partition(tenant: "tenant-\(i)") && (0..<16).contains(p))
            #expect(partitioning.partition(subject: partitioning.subject(p)) == p)
            used.insert(p)
        }
        #expect(used.count == 16, "200 tenants reach every partition")
        #expect(partitioning.partition(tenant: nil) == partitioning.partition(tenant: ""))
        for subject in ["sluice.in.16", "sluice.in.-1", "sluice.in.x", "sluice.out.1", "sluice.in"] {
            #expect(partitioning.partition(subject: subject) == nil, "\(subject)")
        }
    }

    @Test("a payload line that does not decode is reported with its line number")
    func badPayload() throws {
        let good = ClusterPayload.encode([Record.metric(MetricRecord(timestamp: Timestamp(microseconds: 0), tenantID: "t", name: "m", value: 1))])
        #expect(try ClusterPayload.decode(good + good).count == 2)
        #expect {
            try ClusterPayload.decode(good + Array("{\"type\":\"metric\"}\n".utf8) + good)
        } throws: { "\($0)".contains("line 2 of a stream message") }
    }
}
