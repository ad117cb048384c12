import Synchronization

/// Hits, misses and size per named cache, reported each flush interval as a `cache` record
/// with the counts since the previous report (design §2).
///
/// ```swift
/// let caches = CacheStatsRecorder(client: sluice)
/// caches.hit("items")        // on a hit
/// caches.miss("items")       // on a miss
/// caches.setSize("items", bytes: lru.bytes)
/// ```
///
/// Counting is a lock and an add; nothing is queued until the client pulls the counts, so a
/// cache keeps counting while Sluice is away and its totals arrive when Sluice is back.
public final class CacheStatsRecorder: Sendable {
    private let tenant: String?
    private let caches = Mutex<[String: Counts]>([:])

    private struct Counts {
        var hits: UInt64 = 0
        var misses: UInt64 = 0
        var sizeKB: UInt64 = 0
    }

    /// - Parameter tenant: the tenant the caches are reported as; the client's by default.
    public init(client: SluiceClient, tenant: String? = nil) {
        self.tenant = tenant ?? client.configuration.tenant
        client.addReporter { [weak self] now in self?.report(at: now) ?? [] }
    }

    public func hit(_ cache: String, count: UInt64 = 1) {
        caches.withLock { $0[cache, default: Counts()].hits += count }
    }

    public func miss(_ cache: String, count: UInt64 = 1) {
        caches.withLock { $0[cache, default: Counts()].misses += count }
    }

    /// The cache's current size; reported in kilobytes, rounded up.
    public func setSize(_ cache: String, bytes: Int) {
        caches.withLock { $0[cache, default: Counts()].sizeKB = UInt64((Swift.max(bytes, 0) + 1023) / 1024) }
    }

    /// One record per cache seen: the counts since the previous report, and the size now.
    private func report(at now: Timestamp) -> [Record] {
        caches.withLock { caches in
            var out: [Record] = []
            for name in caches.keys.sorted() {
                let counts = caches[name]!
                out.append(.cache(CacheRecord(timestamp: now, tenantID: tenant, cache: name,
                                              hits: counts.hits, misses: counts.misses, sizeKB: counts.sizeKB)))
                caches[name]!.hits = 0
                caches[name]!.misses = 0
            }
            return out
        }
    }
}
