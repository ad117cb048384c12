import SluiceModel

/// The window aggregator's state at one instant, whole and lossless: what `sluice serve` saves
/// at graceful shutdown (instead of closing windows early) and periodically, and resumes from.
///
/// It holds the window lengths and lateness it was taken with, the watermark, the largest event
/// time seen, the late counters, and every open window's pane with the series keys those panes
/// use (only those: the registry is compacted). `encoded()` gives a versioned, checksummed
/// byte form; `init(decoding:)` reads it back.
public struct WindowCheckpoint: Sendable {
    /// The window lengths and lateness the checkpoint was taken with. A machine built from it
    /// can always resume the checkpoint (to flush it when the configured lengths changed).
    public let configuration: WindowAggregator.Configuration
    /// Windows ending at or before this instant had fired (`Int64.min`: nothing seen yet).
    public let watermark: Int64
    let maxEventTime: Int64
    let late: UInt64
    let lateByWindow: [UInt64]
    /// The series the panes' metric entries number, by position.
    let seriesKeys: [SeriesKey]
    /// Per window length (in `configuration.windows` order), the open windows by ascending start.
    let openWindows: [[(start: Int64, pane: Pane)]]
    /// Where the input stood: the position (a stream sequence) of the last record taken, 0
    /// when the input has none. A resumed reader starts after it.
    public let position: UInt64

    static let magic: [UInt8] = Array("SLUICEWC".utf8)
    /// Version 2 adds the input position; a checkpoint without one is written as version 1.
    static let versions: ClosedRange<UInt8> = 1...2
    /// Magic, version, payload length (8 bytes), CRC-32C of the payload (4 bytes).
    static let headerSize = 8 + 1 + 8 + 4

    /// The start of the earliest window that has not fired, open or not yet opened: every
    /// window record stored from this instant on may overlap the checkpoint. `nil` before the
    /// first record.
    public var earliestOpenWindowStart: Timestamp? {
        WindowAggregator.StateMachine.earliestUnfiredStart(
            lengths: configuration.windows.map(\.microseconds), watermark: watermark,
            openStarts: openWindows.compactMap { $0.first?.start })
    }

    /// The byte form: magic `SLUICEWC`, a version byte, the payload's length and CRC-32C, then
    /// the payload. Equal states give equal bytes.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.varint(configuration.windows.count)
        for length in configuration.windows { w.varint(UInt64(length.microseconds)) }
        w.signed(configuration.lateness.microseconds)
        w.i64(watermark)
        w.i64(maxEventTime)
        w.varint(late)
        for n in lateByWindow { w.varint(n) }
        w.varint(seriesKeys.count)
        for key in seriesKeys { key.encode(into: &w) }
        for windows in openWindows {
            w.varint(windows.count)
            for (start, pane) in windows {
                w.signed(start)
                pane.encode(into: &w)
            }
        }
        if position != 0 { w.varint(position) }
        let payload = w.bytes
        var out = BinaryWriter(capacity: Self.headerSize + payload.count)
        out.raw(Self.magic)
        out.u8(position != 0 ? 2 : 1)
        out.u64(UInt64(payload.count))
        out.u32(CRC32C.checksum(payload))
        out.raw(payload)
        return out.bytes
    }

    /// Reads what `encoded()` wrote. Throws, never traps, on bytes that are not a checkpoint,
    /// another version, a cut-short or damaged checkpoint.
    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        let magicCount = Self.magic.count
        guard bytes.count >= magicCount else {
            if !bytes.elementsEqual(Self.magic.prefix(bytes.count)) { throw .notACheckpoint(bytes) }
            throw .truncated(bytes.count, of: UInt64(Self.headerSize))
        }
        guard bytes[..<magicCount].elementsEqual(Self.magic) else { throw .notACheckpoint(bytes[..<magicCount]) }
        guard bytes.count >= magicCount + 1 else { throw .truncated(bytes.count, of: UInt64(Self.headerSize)) }
        let version = bytes[magicCount]
        guard Self.versions.contains(version) else { throw .unsupportedVersion(version) }
        guard bytes.count >= Self.headerSize else { throw .truncated(bytes.count, of: UInt64(Self.headerSize)) }
        var header = BinaryReader(bytes, offset: magicCount + 1)
        guard let length = try? header.u64(), let storedCRC = try? header.u32() else {
            throw .truncated(bytes.count, of: UInt64(Self.headerSize))
        }
        let available = UInt64(bytes.count - Self.headerSize)
        guard length <= available else {
            let (expected, overflow) = length.addingReportingOverflow(UInt64(Self.headerSize))
            throw .truncated(bytes.count, of: overflow ? .max : expected)
        }
        guard length == available else {
            throw .malformed("\(available - length) bytes follow the \(length)-byte payload")
        }
        let payload = Array(bytes[Self.headerSize...])
        let computed = CRC32C.checksum(payload)
        guard computed == storedCRC else { throw .checksumMismatch(stored: storedCRC, computed: computed) }
        do throws(BinaryDecodingError) {
            var r = BinaryReader(payload)
            try self.init(payload: &r, version: version)
            try r.expectEnd(version == 1 ? "the checkpoint's open windows" : "the checkpoint's input position")
        } catch {
            throw .malformed(error)
        }
    }

    /// The payload. Checks everything the state machine relies on (lengths positive and in
    /// order, windows aligned and in order, series numbers known), so that a checkpoint that
    /// decodes resumes without trapping.
    private init(payload r: inout BinaryReader, version: UInt8) throws(BinaryDecodingError) {
        let windowCount = try r.count(maximum: 1_024)
        guard windowCount > 0 else { throw .malformed("no window lengths") }
        var lengths: [Int64] = []
        for _ in 0..<windowCount {
            let length = try r.varint()
            guard length > 0, length <= UInt64(WindowDuration.longest.microseconds) else {
                throw .malformed("window length \(length) µs is out of range")
            }
            if let last = lengths.last, Int64(length) <= last { throw .malformed("window lengths are not ascending") }
            lengths.append(Int64(length))
        }
        let lateness = try r.signed()
        guard lateness >= 0, lateness <= WindowDuration.longest.microseconds else {
            throw .malformed("lateness \(lateness) µs is out of range")
        }
        let watermark = try r.i64()
        let maxEventTime = try r.i64()
        // Counters far below 2^62, so that counting on never overflows.
        func counter() throws(BinaryDecodingError) -> UInt64 {
            let n = try r.varint()
            guard n < 1 << 62 else { throw .malformed("late counter \(n) is out of range") }
            return n
        }
        let late = try counter()
        var lateByWindow: [UInt64] = []
        for _ in 0..<windowCount { lateByWindow.append(try counter()) }
        // A key takes at least three bytes: no tenant, an empty name, no labels.
        let keyCount = try r.count(minimumSize: 3, maximum: Int(Int32.max))
        var keys: [SeriesKey] = []
        keys.reserveCapacity(keyCount)
        var seen = Set<SeriesKey>(minimumCapacity: keyCount)
        for _ in 0..<keyCount {
            let key = try SeriesKey(decoding: &r)
            guard seen.insert(key).inserted else { throw .malformed("series \(key.name) of tenant \(key.tenantID ?? "(none)") is listed twice") }
            keys.append(key)
        }
        var openWindows: [[(start: Int64, pane: Pane)]] = []
        for length in lengths {
            // An open window takes at least four bytes: its start and three empty maps.
            let count = try r.count(minimumSize: 4)
            var windows: [(start: Int64, pane: Pane)] = []
            for _ in 0..<count {
                let start = try r.signed()
                guard start % length == 0, start <= Int64.max - length else {
                    throw .malformed("window start \(start) µs is not a window of \(length) µs")
                }
                if let last = windows.last, start <= last.start { throw .malformed("open windows are not in order") }
                windows.append((start, try Pane(decoding: &r, seriesCount: keyCount)))
            }
            openWindows.append(windows)
        }
        var position: UInt64 = 0
        if version >= 2 {
            position = try r.varint()
            guard position > 0 else { throw .malformed("a version 2 checkpoint with input position 0") }
        }
        self.init(
            configuration: .init(windows: lengths.map { WindowDuration(microseconds: $0) }, lateness: WindowDuration(microseconds: lateness)),
            watermark: watermark, maxEventTime: maxEventTime, late: late, lateByWindow: lateByWindow,
            seriesKeys: keys, openWindows: openWindows, position: position)
    }

    init(
        configuration: WindowAggregator.Configuration, watermark: Int64, maxEventTime: Int64, late: UInt64,
        lateByWindow: [UInt64], seriesKeys: [SeriesKey], openWindows: [[(start: Int64, pane: Pane)]], position: UInt64
    ) {
        self.position = position
        self.configuration = configuration
        self.watermark = watermark
        self.maxEventTime = maxEventTime
        self.late = late
        self.lateByWindow = lateByWindow
        self.seriesKeys = seriesKeys
        self.openWindows = openWindows
    }
}
