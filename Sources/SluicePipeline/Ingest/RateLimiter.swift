import Synchronization

/// Records per second per tenant, with a burst of one second's worth (a token bucket). Time
/// comes from an injected clock, so tests move it by hand.
public final class RateLimiter: Sendable {
    public let perSecond: Int
    private let elapsed: @Sendable () -> Duration
    private let buckets = Mutex<[String: (tokens: Double, at: Duration)]>([:])

    public init<C: Clock>(perSecond: Int, clock: C) where C.Duration == Duration {
        self.perSecond = perSecond
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
    }

    /// Takes `n` records' worth; returns the whole seconds to wait when there is not enough.
    public func take(_ n: Int, tenant: String) -> Int? {
        let now = elapsed()
        let rate = Double(perSecond)
        return buckets.withLock { buckets in
            var bucket = buckets[tenant] ?? (rate, now)
            let passed = now - bucket.at
            let seconds = Double(passed.components.seconds) + Double(passed.components.attoseconds) / 1e18
            bucket.tokens = min(rate, bucket.tokens + seconds * rate)
            bucket.at = now
            defer { buckets[tenant] = bucket }
            guard bucket.tokens >= Double(n) else {
                return max(1, Int(((Double(n) - bucket.tokens) / rate).rounded(.up)))
            }
            bucket.tokens -= Double(n)
            return nil
        }
    }
}
