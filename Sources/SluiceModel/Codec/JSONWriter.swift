/// Appends JSON to a byte buffer: the encoder behind every NDJSON output.
///
/// Hand-written for speed and for control of the bytes: keys appear in the order they are
/// written, doubles in their shortest round-trip form, so output is deterministic.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]
    /// Whether the next value in the current object or array needs a comma before it.
    @usableFromInline var needsComma = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Whether a value written now needs a comma first (for callers splicing in raw JSON).
    public var needsCommaForRaw: Bool { needsComma }

    /// Records that a value was just written by a caller splicing raw JSON.
    public mutating func markValueWritten() { needsComma = true }

    /// Ends an NDJSON line.
    public mutating func newline() {
        bytes.append(0x0A)
        needsComma = false
    }

    @inline(__always) @usableFromInline
    mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// Writes `"name":` (the name is trusted ASCII, as every key Sluice writes is).
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    /// Writes a key that comes from data (label names, map keys), escaped.
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        var copy = value
        copy.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let b = utf8[i]
                guard b < 0x20 || b == 0x22 || b == 0x5C else { continue }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                switch b {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: Array((value ? "true" : "false").utf8))
        needsComma = true
    }

    public mutating func integer(_ value: some BinaryInteger) {
        separate()
        appendDecimal(value)
        needsComma = true
    }

    @usableFromInline
    mutating func appendDecimal(_ value: some BinaryInteger) {
        if value == 0 { bytes.append(0x30); return }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[19 - count] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            }
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
        }
    }

    /// Writes a double in its shortest round-trip form (`1`, `0.25`, `1e-07`); a non-finite
    /// value, which JSON cannot hold, as `null`.
    public mutating func number(_ value: Double) {
        separate()
        appendDouble(value)
        needsComma = true
    }

    public mutating func number(_ value: Double?) {
        if let value { number(value) } else { null() }
    }

    @usableFromInline
    mutating func appendDouble(_ value: Double) {
        guard value.isFinite else {
            bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
            return
        }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            if value == 0 && value.sign == .minus { bytes.append(UInt8(ascii: "-")) }
            appendDecimal(Int64(value))
            return
        }
        // Swift's description is the shortest form that round-trips (SwiftDtoa).
        bytes.append(contentsOf: value.description.utf8)
    }

    /// Writes a micro-unit integer as a decimal with up to six fraction digits (`12.5`, `0.000003`):
    /// money kept exactly as integers, shown as a number.
    public mutating func decimal(micros: Int64) {
        separate()
        if micros < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = micros.magnitude
        appendDecimal(magnitude / 1_000_000)
        var fraction = magnitude % 1_000_000
        if fraction != 0 {
            bytes.append(UInt8(ascii: "."))
            var width = 6
            while fraction % 10 == 0 { fraction /= 10; width -= 1 }
            var digits = [UInt8](repeating: 0x30, count: width)
            var f = fraction
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(f % 10) + 0x30
                f /= 10
            }
            bytes.append(contentsOf: digits)
        }
        needsComma = true
    }

    public mutating func timestamp(_ value: Timestamp) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        RFC3339.append(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Writes labels as an object, keys in sorted order.
    public mutating func labels(_ labels: Labels) {
        beginObject()
        for label in labels {
            key(label.key)
            string(label.value)
        }
        endObject()
    }
}
