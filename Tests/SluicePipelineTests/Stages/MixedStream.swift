#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel
import Testing
@testable import SluicePipeline

/// A seeded, reproducible stream of every record type, for tests that compare runs: many
/// series with labels, varied values, optional performance fields, caches with and without a
/// name, visitors, token records, and event times out of order within and beyond the lateness.
struct MixedStream: Sendable, CustomTestStringConvertible {
    var seed: UInt64
    var count: Int
    var windows: [WindowDuration]
    var lateness: WindowDuration
    /// Distinct visitor ids; thousands push a window's HyperLogLog into its dense form.
    var visitors: Int = 400
    /// The share of visit records.
    var visitShare: Double = 0.2
    /// The mean event-time step between records, in microseconds.
    var step: Double = 200_000

    static let base: Int64 = 1_795_514_400_000_000  // 2026-11-24T10:00:00Z

    var configuration: WindowAggregator.Configuration { .init(windows: windows, lateness: lateness) }

    var testDescription: String {
        "seed \(seed), \(count) records, windows \(windows.map(\.humanDescription)), lateness \(lateness.humanDescription)"
    }

    static let scenarios: [MixedStream] = [
        MixedStream(seed: 1, count: 3_000, windows: [.minutes(1), .minutes(5)], lateness: .seconds(10)),
        MixedStream(seed: 2, count: 3_000, windows: [.seconds(10), .minutes(1)], lateness: .zero),
        MixedStream(seed: 3, count: 2_000, windows: [.seconds(30)], lateness: .minutes(1)),
        // Over 2,048 visitors of one site in a window: its HyperLogLog turns dense.
        MixedStream(seed: 4, count: 12_000, windows: [.minutes(1), .minutes(5)], lateness: .seconds(5), visitors: 20_000, visitShare: 0.8, step: 10_000),
    ]

    func records() -> [Record] {
        var random = SeededRandom(seed: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        let tenants: [String?] = [nil, "acme", "globex", "initech"]
        let names = ["cpu", "latency_ms", "queue_depth", "errors", "temperature"]
        var clock = Self.base
        var out: [Record] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            clock += Int64(random.unit() * 2 * step)
            var t = clock
            let jitter = random.unit()
            if jitter < 0.15 {
                t -= Int64(random.unit() * 2 * Double(lateness.microseconds + 1_000_000))  // within and just past the lateness
            } else if jitter < 0.2 {
                t -= Int64(random.unit() * 600_000_000)  // up to ten minutes late
            } else if jitter < 0.22 {
                t += Int64(random.unit() * 5_000_000)
            }
            let ts = Timestamp(microseconds: t)
            let tenant = pick(tenants)
            var labels = Labels.empty
            if random.unit() < 0.7 { labels = labels.setting("host", to: pick(["h1", "h2", "h3"])) }
            if random.unit() < 0.3 { labels = labels.setting("region", to: pick(["eu", "us"])) }
            let kind = random.unit()
            if kind < visitShare {
                out.append(.visit(VisitRecord(timestamp: ts, tenantID: tenant, visitorID: "visitor-\(random.next() % UInt64(visitors))")))
            } else if kind < visitShare + (1 - visitShare) * 0.5 {
                out.append(.metric(MetricRecord(timestamp: ts, tenantID: tenant, labels: labels, name: pick(names), value: value(&random))))
            } else if kind < visitShare + (1 - visitShare) * 0.7 {
                var fields = (0..<3).map { _ in random.unit() < 0.6 ? value(&random) : nil }
                if fields.allSatisfy({ $0 == nil }) { fields[0] = value(&random) }
                out.append(.performance(PerformanceRecord(
                    timestamp: ts, tenantID: tenant, labels: labels.setting("route", to: pick(["/", "/api", "/login"])),
                    responseTime: fields[0], dbQueryTime: fields[1], memoryUsage: fields[2])))
            } else if kind < visitShare + (1 - visitShare) * 0.9 {
                out.append(.cache(CacheRecord(
                    timestamp: ts, tenantID: tenant, labels: labels, cache: pick([nil, "redis", "memcached", ""]),
                    hits: random.next() % 100, misses: random.next() % 20, sizeKB: random.next() % 1_000_000)))
            } else {
                out.append(.tokenUsage(TokenUsageRecord(
                    timestamp: ts, tenantID: tenant ?? "acme", model: pick(["gpt", "claude"]),
                    promptTokens: random.next() % 1_000, completionTokens: random.next() % 500, requestID: "request-\(i)")))
            }
        }
        return out
    }

    private func value(_ random: inout SeededRandom) -> Double {
        switch random.next() % 6 {
        case 0: random.gaussian() * 100
        case 1: exp(random.gaussian() * 5)
        case 2: 0
        case 3: -random.unit() * 1e6
        case 4: Double(random.next() % 10)
        default: random.unit() * 1e-10
        }
    }
}

/// Every event as comparable text: outputs as their NDJSON bytes, token records by request,
/// watermarks by instant.
func rendered(_ events: [StageEvent]) -> [String] {
    events.map { event in
        switch event {
        case .output(let o): o.ndjson
        case .tokenUsage(let u): "token_usage \(u.requestID)"
        case .watermark(let t): "watermark \(t.microseconds)"
        case .detectorCheckpoint(let state): "detector checkpoint \(state.count) bytes"
        }
    }
}

/// Outputs only, as NDJSON.
func renderedOutputs(_ events: [StageEvent]) -> [String] { events.compactMap { $0.output?.ndjson } }

/// What identifies a window record: kind, series and window.
func windowIdentity(_ record: OutputRecord) -> String? {
    switch record {
    case .window(let w): "window \(w.span.length) \(w.span.start.microseconds) \(w.series.tenantID ?? "-") \(w.series.name) \(Array(w.series.labels))"
    case .cacheWindow(let w): "cache \(w.span.length) \(w.span.start.microseconds) \(w.tenantID ?? "-") \(w.cache.map { "\"\($0)\"" } ?? "nil") \(Array(w.labels))"
    case .visitsWindow(let w): "visits \(w.span.length) \(w.span.start.microseconds) \(w.tenantID ?? "-")"
    default: nil
    }
}

/// The first place two renderings differ, for a readable failure.
func firstDifference(_ a: [String], _ b: [String]) -> String? {
    for i in 0..<min(a.count, b.count) where a[i] != b[i] { return "event \(i):\n  \(a[i])\n  \(b[i])" }
    return a.count == b.count ? nil : "lengths \(a.count) and \(b.count)"
}
