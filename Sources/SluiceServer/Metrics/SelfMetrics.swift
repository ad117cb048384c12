import CoreMetrics
import Hummingbird
import Metrics
import Prometheus
import Synchronization
import SluiceModel
import SluicePipeline
import SluiceStore

/// Sluice's own metrics, exposed as Prometheus text at `GET /metrics`.
///
/// The pipeline counts into `PipelineCounters` (plain numbers, no metrics dependency); at each
/// scrape the deltas since the last one are added to swift-metrics counters backed by a
/// Prometheus registry, and gauges (channel depth, bytes stored) are set.
public final class SelfMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let last = Mutex(RunSummary())
    private let lastStore = Mutex(0)

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }

    func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: label, dimensions: dimensions, factory: factory)
    }

    /// Counts one HTTP request.
    func request(route: String, status: Int) {
        counter("sluice_http_requests_total", [("route", route), ("status", String(status))]).increment()
    }

    /// Counts what a prune removed, and a mass delete it refused.
    func pruned(_ report: RetentionPruner.Report) {
        if report.refusal != nil && !report.dryRun { counter("sluice_prune_refused_total").increment() }
        for (key, value) in report.removed {
            counter("sluice_prune_removed_records_total", [("type", key.type), ("reason", key.reason)]).increment(by: value.records)
            counter("sluice_prune_removed_bytes_total", [("type", key.type), ("reason", key.reason)]).increment(by: value.bytes)
        }
    }

    /// Brings the Prometheus text up to date and returns it.
    func scrape(counters: PipelineCounters, channelDepth: Int, channelCapacity: Int, store: StoreStatistics?) -> [UInt8] {
        let now = counters.snapshot
        let before = last.withLock { previous -> RunSummary in
            defer { previous = now }
            return previous
        }
        for (kind, n) in now.recordsByType where n > before.recordsByType[kind, default: 0] {
            counter("sluice_records_in_total", [("stage", "ingest"), ("type", kind.rawValue)]).increment(by: Int(n - before.recordsByType[kind, default: 0]))
        }
        for (reason, n) in now.errorsByReason where n > before.errorsByReason[reason, default: 0] {
            counter("sluice_ingest_errors_total", [("reason", reason.rawValue)]).increment(by: Int(n - before.errorsByReason[reason, default: 0]))
        }
        for (length, n) in now.lateByWindow where n > before.lateByWindow[length, default: 0] {
            counter("sluice_late_events_total", [("window", length.description)]).increment(by: Int(n - before.lateByWindow[length, default: 0]))
        }
        for (type, n) in now.emitted where n > before.emitted[type, default: 0] {
            counter("sluice_records_out_total", [("stage", "sink"), ("type", type)]).increment(by: Int(n - before.emitted[type, default: 0]))
        }
        for (name, n) in now.counters where n > before.counters[name, default: 0] {
            let delta = Int(n - before.counters[name, default: 0])
            // Per-protocol counts are kept as `protocol_<what>.<protocol>`.
            if let dot = name.firstIndex(of: "."), name.hasPrefix("protocol_") {
                counter("sluice_\(name[..<dot])_total", [("protocol", String(name[name.index(after: dot)...]))]).increment(by: delta)
            } else {
                counter("sluice_\(name)_total").increment(by: delta)
            }
        }
        gauge("sluice_channel_depth", [("channel", "ingest")]).record(channelDepth)
        gauge("sluice_channel_capacity", [("channel", "ingest")]).record(channelCapacity)
        if let store {
            let written = store.bytes
            let previous = lastStore.withLock { p -> Int in defer { p = written }; return p }
            if written > previous { counter("sluice_store_bytes_written_total").increment(by: written - previous) }
            gauge("sluice_store_blocks").record(store.blocks)
        }
        return registry.emitToBuffer()
    }
}

/// Counts every request by route and status (`sluice_http_requests_total`).
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let metrics: SelfMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.request(route: context.endpointPath ?? "unmatched", status: response.status.code)
            return response
        } catch let error as HTTPResponseError {
            metrics.request(route: context.endpointPath ?? "unmatched", status: error.status.code)
            throw error
        }
    }
}
