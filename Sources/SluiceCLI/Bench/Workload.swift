import SluiceModel

/// Seeded NDJSON workloads for benchmarks and end-to-end tests.
public enum Workload {
    /// Metric lines of about 110 bytes, as the throughput target is stated: `tenants × series`
    /// series, timestamps advancing `perSecond` records per event-time second with a little
    /// jitter inside the allowed lateness.
    public static func metricLines(count: Int, seed: UInt64, tenants: Int = 20, seriesPerTenant: Int = 50, perSecond: Int = 10_000) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count * 112)
        let names = ["req_ms", "cpu_util", "queue_len", "heap_mb", "gc_ms"]
        let base: Int64 = 1_795_600_000_000  // 2026-11-25T09:46:40Z, in milliseconds
        for i in 0..<count {
            let tenant = Int(random.next() % UInt64(tenants))
            let series = Int(random.next() % UInt64(seriesPerTenant))
            let jitter = Int64(random.next() % 2_000)
            let millis = base + Int64(i) * 1_000 / Int64(perSecond) - jitter
            let value = Double(random.next() % 1_000_000) / 100
            let name = names[series % names.count]
            let line = "{\"timestamp\":\(millis / 1000).\(pad3(millis % 1000)),\"tenant_id\":\"t\(pad3(Int64(tenant)))\",\"metric_name\":\"\(name)\",\"labels\":{\"host\":\"h\(series)\"},\"value\":\(value)}\n"
            out.append(contentsOf: line.utf8)
        }
        return out
    }

    /// A mixed workload of all five record types across many tenants, with out-of-order events
    /// inside the lateness and a share far behind it. Values are multiples of ¼, so any order of
    /// summation is exact and a test can check sums with a plain loop.
    public static func mixedLines(count: Int, seed: UInt64, tenants: Int = 12, visitors: Int = 5_000) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        var out: [UInt8] = []
        let base: Int64 = 1_795_600_000_000
        let routes = ["/", "/api/items", "/checkout"]
        let models = ["gpt-4o", "claude-sonnet", "mistral-large"]
        for i in 0..<count {
            let tenant = "site-\(Int(random.next() % UInt64(tenants)))"
            var millis = base + Int64(i) * 20
            let roll = random.next() % 100
            if roll < 10 { millis -= Int64(random.next() % 4_000) }  // out of order, inside 5s lateness
            if roll == 99 { millis -= 600_000 }  // ten minutes behind: late
            let ts = "\(millis / 1000).\(pad3(millis % 1000))"
            let line: String
            switch random.next() % 5 {
            case 0:
                let value = Double(random.next() % 100_000) / 4
                line = "{\"timestamp\":\(ts),\"tenant_id\":\"\(tenant)\",\"metric_name\":\"orders\",\"value\":\(value)}"
            case 1:
                line = "{\"type\":\"cache\",\"timestamp\":\(ts),\"tenant_id\":\"\(tenant)\",\"cache\":\"redis\",\"hits\":\(random.next() % 100),\"misses\":\(random.next() % 20),\"size_kb\":\(random.next() % 10_000)}"
            case 2:
                let rt = Double(random.next() % 50_000) / 4
                let db = Double(random.next() % 5_000) / 4
                let mem = Double(random.next() % 4_096)
                line = "{\"type\":\"performance\",\"timestamp\":\(ts),\"tenant_id\":\"\(tenant)\",\"route\":\"\(routes[Int(random.next() % 3)])\",\"response_time\":\(rt),\"db_query_time\":\(db),\"memory_usage\":\(mem)}"
            case 3:
                line = "{\"type\":\"token_usage\",\"timestamp\":\(ts),\"tenant_id\":\"\(tenant)\",\"model\":\"\(models[Int(random.next() % 3)])\",\"prompt_tokens\":\(random.next() % 4_000),\"completion_tokens\":\(random.next() % 1_000),\"request_id\":\"req-\(i)\"}"
            default:
                line = "{\"type\":\"visit\",\"timestamp\":\(ts),\"tenant_id\":\"\(tenant)\",\"visitor_id\":\"v\(random.next() % UInt64(visitors))\",\"path\":\"/p\"}"
            }
            out.append(contentsOf: line.utf8)
            out.append(0x0A)
        }
        return out
    }

    static func pad3(_ n: Int64) -> String {
        n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)"
    }
}
