/// When a failed send is tried again: exponential back-off with full jitter (each delay drawn
/// uniformly from zero to the capped exponential step), never shorter than the server's
/// `Retry-After`.
public struct RetryPolicy: Sendable, Equatable {
    /// The first step of the back-off.
    public var initialBackoff: Duration
    /// The largest step.
    public var maxBackoff: Duration

    public init(initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5)) {
        precondition(initialBackoff > .zero && maxBackoff >= initialBackoff, "back-off steps must be positive and the largest at least the first")
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// What to do with an answer.
    public enum Decision: Sendable, Equatable {
        /// Sent: the server answered 2xx.
        case delivered
        /// Try the same request again later: 408, 409 (the same key still in flight), 429 and
        /// 5xx, and failures to connect or read the answer.
        case retry
        /// The server will never take these bytes: 400 (bad records: retrying cannot help),
        /// 401, 403, 413, 415 and any other 4xx.
        case reject
    }

    public static func decide(status: Int) -> Decision {
        switch status {
        case 200..<300: .delivered
        case 408, 409, 425, 429: .retry
        case 500..<600: .retry
        default: .reject
        }
    }

    /// The delay before attempt `attempt + 1` (`attempt` counts from 1), with `unit` a uniform
    /// draw from [0, 1), at least `retryAfter` seconds when the server asked for that.
    public func delay(afterAttempt attempt: Int, unit: Double, retryAfter: Int? = nil) -> Duration {
        let step = initialBackoff * Double(1 << Swift.min(attempt - 1, 30))
        let capped = Swift.min(step, maxBackoff)
        let jittered = capped * Swift.max(0, Swift.min(unit, 1))
        guard let retryAfter, retryAfter > 0 else { return jittered }
        return Swift.max(jittered, .seconds(retryAfter))
    }
}
