import SluiceModel

/// Where a line of a text protocol (Influx, StatsD) broke, as the 1-based byte column, and why.
/// The decoder refuses the line with `decodeError`; its caller adds the line number.
struct LineFault: Error {
    var column: Int
    var reason: DecodeError.Reason
    var message: String

    var decodeError: DecodeError { DecodeError(reason, "column \(column): \(message)") }
}
