/// An instant in event time: microseconds since the Unix epoch, UTC.
///
/// Microseconds are the resolution design §3 promises; an integer keeps window arithmetic exact
/// and ordering total, which floating-point seconds would not.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    @inlinable
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// Whole seconds since the epoch.
    public init(seconds: Int64) { self.microseconds = seconds * 1_000_000 }

    @inlinable
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    /// The RFC 3339 UTC form, as every output record carries it.
    public var description: String { RFC3339.format(self) }

    @inlinable
    public static func + (lhs: Timestamp, rhs: WindowDuration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds + rhs.microseconds)
    }

    @inlinable
    public static func - (lhs: Timestamp, rhs: WindowDuration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds - rhs.microseconds)
    }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
