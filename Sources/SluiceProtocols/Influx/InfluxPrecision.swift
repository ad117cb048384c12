import SluiceModel

/// The unit of a line's timestamp, as the write request's `precision` parameter names it.
///
/// InfluxDB's two APIs spell it differently: v2 (`/api/v2/write`) takes `ns`, `us`, `ms` and
/// `s`; v1 (`/write`) takes `n`, `u`, `ms`, `s`, `m` and `h` (and, like InfluxDB 1.8's
/// compatibility layer, `ns` and `us`). Both default to nanoseconds.
public enum InfluxPrecision: Sendable, Hashable, CaseIterable {
    case nanoseconds
    case microseconds
    case milliseconds
    case seconds
    case minutes
    case hours

    /// `precision=` of `/api/v2/write`; `nil` when the value is not one of v2's.
    public init?(v2 text: String?) {
        switch text ?? "" {
        case "", "ns": self = .nanoseconds
        case "us": self = .microseconds
        case "ms": self = .milliseconds
        case "s": self = .seconds
        default: return nil
        }
    }

    /// `precision=` of the v1 `/write`; `nil` when the value is not one of v1's.
    public init?(v1 text: String?) {
        switch text ?? "" {
        case "", "n", "ns": self = .nanoseconds
        case "u", "us": self = .microseconds
        case "ms": self = .milliseconds
        case "s": self = .seconds
        case "m": self = .minutes
        case "h": self = .hours
        default: return nil
        }
    }

    /// What `/api/v2/write` accepts, for the error message of a bad `precision`.
    public static let v2Names = "ns, us, ms or s"
    /// What the v1 `/write` accepts, for the error message of a bad `precision`.
    public static let v1Names = "n, u, ms, s, m or h"

    /// A timestamp in this unit as an event time (microseconds, rounded down); `nil` when it
    /// does not fit in 64 bits of microseconds.
    func timestamp(_ value: Int64) -> Timestamp? {
        let scale: Int64
        switch self {
        case .nanoseconds: return Timestamp(nanoseconds: value)
        case .microseconds: return Timestamp(microseconds: value)
        case .milliseconds: scale = 1_000
        case .seconds: scale = 1_000_000
        case .minutes: scale = 60_000_000
        case .hours: scale = 3_600_000_000
        }
        let (micros, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : Timestamp(microseconds: micros)
    }
}
