import Synchronization

/// Database time spent on behalf of one request: handlers wrap their queries in `measure`, and
/// the request's `performance` sample (see `SluicePerformanceMiddleware`) carries the total as
/// `db_query_time`. The recorder lives in a task-local, so code deep in a query layer needs no
/// parameter to find it, and queries run by child tasks add to their request's total.
///
/// ```swift
/// let rows = try await QueryPerformanceRecorder.measure { try await db.query(sql) }
/// ```
public final class QueryPerformanceRecorder: Sendable {
    /// The recorder of the request this task serves, if any.
    @TaskLocal public static var current: QueryPerformanceRecorder?

    private let state = Mutex<(total: Duration, queries: Int)>((.zero, 0))

    public init() {}

    /// The database time recorded so far.
    public var total: Duration { state.withLock { $0.total } }
    /// Queries recorded so far.
    public var queries: Int { state.withLock { $0.queries } }

    /// Adds one query's time.
    public func record(_ duration: Duration) {
        state.withLock {
            $0.total += duration
            $0.queries += 1
        }
    }

    /// Runs `query`, adding its time to the current request's recorder (when there is one),
    /// whether it returns or throws.
    public static func measure<T>(
        isolation: isolated (any Actor)? = #isolation, _ query: () async throws -> T
    ) async rethrows -> T {
        guard let recorder = current else { return try await query() }
        let clock = ContinuousClock()
        let start = clock.now
        defer { recorder.record(start.duration(to: clock.now)) }
        return try await query()
    }

    /// Runs `body` with a new recorder as the current one, and returns it with the result.
    public static func collecting<T>(
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async rethrows -> (T, QueryPerformanceRecorder) {
        let recorder = QueryPerformanceRecorder()
        let result = try await $current.withValue(recorder) { try await body() }
        return (result, recorder)
    }
}
