#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Strings and label sets already decoded, found again by their raw bytes, so that a stream
/// that repeats them (every real one does) makes no new `String` or `Labels` for each record.
///
/// Records that share a label set then share its storage, and the window aggregator's series
/// lookup compares them by identity before it compares bytes. The table is bounded: when it
/// is full it starts over, so a stream of ever-new label sets costs a reset, not memory. Its
/// hash is seeded per process, as Swift's own is, so a sender cannot line keys up on one
/// probe chain.
///
/// One table serves one decoder at a time (it is a value, moved between the tasks that take
/// turns with it); a table made with `capacity: 0` keeps nothing.
public struct InternTable: Sendable {
    struct Cache<Value: Sendable>: Sendable {
        /// Entry number per slot, -1 when free; twice as many slots as entries.
        var slots: [Int32] = []
        var hashes: [UInt64] = []
        var keys: [[UInt8]] = []
        var values: [Value] = []
        let capacity: Int

        init(capacity: Int) { self.capacity = capacity }

        func lookup(_ raw: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Value? {
            guard !slots.isEmpty else { return nil }
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: hash) & mask
            while true {
                let entry = Int(slots[slot])
                if entry < 0 { return nil }
                if hashes[entry] == hash, keys[entry].withUnsafeBufferPointer({ Self.same($0, raw) }) { return values[entry] }
                slot = (slot + 1) & mask
            }
        }

        mutating func insert(_ raw: UnsafeBufferPointer<UInt8>, hash: UInt64, _ value: Value) {
            guard capacity > 0 else { return }
            if slots.isEmpty {
                // Small at first (a one-record message keeps its table small), doubling as it fills.
                slots = [Int32](repeating: -1, count: Swift.min(64, Self.slotCount(capacity)))
            } else if values.count >= capacity {
                for i in slots.indices { slots[i] = -1 }
                hashes.removeAll(keepingCapacity: true)
                keys.removeAll(keepingCapacity: true)
                values.removeAll(keepingCapacity: true)
            } else if values.count * 2 >= slots.count {
                slots = [Int32](repeating: -1, count: slots.count * 2)
                let mask = slots.count - 1
                for (entry, h) in hashes.enumerated() {
                    var slot = Int(truncatingIfNeeded: h) & mask
                    while slots[slot] >= 0 { slot = (slot + 1) & mask }
                    slots[slot] = Int32(entry)
                }
            }
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(values.count)
            hashes.append(hash)
            keys.append(Array(raw))
            values.append(value)
        }

        static func slotCount(_ capacity: Int) -> Int {
            var n = 1
            while n < capacity * 2 { n <<= 1 }
            return n
        }

        static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
            guard a.count == b.count else { return false }
            guard a.count > 0 else { return true }
            return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
        }
    }

    /// Strings of up to 15 bytes (a tenant, a metric name, most label values), which `String`
    /// keeps inline, in its own two words.
    ///
    /// Making one costs no allocation, but it does cost a UTF-8 check of its bytes, once a
    /// record for each such field. Here a repeat is found by its bytes as two words, compared
    /// in two instructions, and its `String` handed back as it was made. Direct-mapped: a
    /// string's words pick one entry, and a new string there replaces the old, so the table is
    /// bounded with nothing to reset, and strings that collide cost what they cost without it.
    struct ShortStrings: Sendable {
        /// 256 entries once the first string comes; none before (a one-record message).
        var entries: [(key: (UInt64, UInt64), text: String)] = []

        static let entryCount = 256
        static let maximumLength = 15

        /// The bytes as two words, zero past the end, and the length in the top byte (a
        /// string of at most 15 bytes never reaches it).
        @inline(__always)
        static func key(_ raw: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64) {
            var words: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(raw)) }
            return (UInt64(littleEndian: words.0), UInt64(littleEndian: words.1) | UInt64(raw.count) << 56)
        }

        @inline(__always)
        static func slot(_ key: (UInt64, UInt64)) -> Int {
            Int(truncatingIfNeeded: ((key.0 &* 0x9E37_79B9_7F4A_7C15) ^ (key.1 &* 0xBF58_476D_1CE4_E5B9)) >> 56)
        }

        /// The `String` made for these bytes, when it is the one in their entry.
        @inline(__always)
        func lookup(_ key: (UInt64, UInt64)) -> String? {
            guard !entries.isEmpty else { return nil }
            let entry = entries[Self.slot(key)]
            return entry.key == key ? entry.text : nil
        }

        mutating func insert(_ key: (UInt64, UInt64), _ text: String) {
            // Every entry starts as the empty string's: its key is all zeros.
            if entries.isEmpty { entries = Array(repeating: (key: (0, 0), text: ""), count: Self.entryCount) }
            entries[Self.slot(key)] = (key, text)
        }
    }

    var strings: Cache<String>
    var shortStrings = ShortStrings()
    var labels: Cache<Labels>

    /// Up to `capacity` strings and as many label sets, and 256 strings of up to 15 bytes.
    public init(capacity: Int = 4_096) {
        strings = Cache(capacity: capacity)
        labels = Cache(capacity: capacity)
    }

    /// Keeps nothing: for one-off decodes.
    public static var none: InternTable { InternTable(capacity: 0) }

    /// Label sets held (for tests and benchmarks).
    public var labelSetCount: Int { labels.values.count }

    static let seed: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next() | 1
    }()

    /// A fast seeded hash of a few dozen bytes: eight at a time, each word mixed in by a
    /// multiply and a shift.
    @usableFromInline @inline(__always)
    static func hash(_ raw: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h = seed ^ (UInt64(raw.count) &* 0x9E37_79B9_7F4A_7C15)
        guard let base = raw.baseAddress else { return h }
        let bytes = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= raw.count {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < raw.count {
            var word: UInt64 = 0
            var shift: UInt64 = 0
            while i < raw.count {
                word |= UInt64(raw[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ word) &* 0x94D0_49BB_1331_11EB
            h ^= h >> 29
        }
        return h
    }
}
