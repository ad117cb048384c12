/// A bounded table in front of a map keyed by series (tenant, name, labels), for streams whose
/// records share label storage: the decoder's `InternTable` gives every record with the same
/// label set the same array.
///
/// A key is found by a hash of the two short names and the *address* of the labels' storage,
/// so no label string is hashed again; a hit is confirmed with `==`, which shared storage
/// answers by identity. Labels with equal content but their own storage (another decode
/// lane's, or a one-off HTTP body's) just take another entry.
///
/// It never answers wrongly: an entry holds the key it was filled for and every hit compares
/// it, and holding the key keeps its storage alive, so no other label set can be given that
/// address while an entry names it. It holds at most half as many entries as it has slots
/// (open addressing, linear probing); filling one more starts it over, so a stream of ever-new
/// series costs a reset now and then, not memory.
@frozen
public struct SeriesLookupCache<Value> {
    /// Where `find` looked: pass it to `fill` after asking the map on a miss.
    @frozen
    public struct Probe {
        @usableFromInline let slot: Int
        @usableFromInline let fingerprint: UInt64

        @inlinable
        init(slot: Int, fingerprint: UInt64) {
            self.slot = slot
            self.fingerprint = fingerprint
        }
    }

    @usableFromInline @frozen
    struct Entry {
        @usableFromInline var tenantID: String?
        @usableFromInline var name: String
        @usableFromInline var labels: Labels
        @usableFromInline var value: Value

        @inlinable
        init(tenantID: String?, name: String, labels: Labels, value: Value) {
            self.tenantID = tenantID
            self.name = name
            self.labels = labels
            self.value = value
        }
    }

    /// Per slot, the fingerprint of its entry (never 0), or 0 when it is free: probing reads
    /// only this array.
    @usableFromInline var fingerprints: [UInt64] = []
    @usableFromInline var entries: [Entry?] = []
    @usableFromInline var count = 0
    @usableFromInline let slotCount: Int

    /// `slots` is rounded up to a power of two (at least 2), and holds half as many entries;
    /// the storage is made at the first miss.
    @inlinable
    public init(slots: Int = 8_192) {
        var n = 2
        while n < slots { n <<= 1 }
        slotCount = n
    }

    /// The value filled for an equal key, if the table still holds it.
    @inlinable
    public func find(tenantID: String?, name: String, labels: Labels) -> (probe: Probe, value: Value?) {
        let fingerprint = Self.fingerprint(tenantID, name, labels) | 1
        let mask = slotCount - 1
        var slot = Int(truncatingIfNeeded: fingerprint) & mask
        guard !fingerprints.isEmpty else { return (Probe(slot: slot, fingerprint: fingerprint), nil) }
        // At most half the slots are taken, so a free one ends every probe.
        while true {
            let f = fingerprints[slot]
            if f == 0 { return (Probe(slot: slot, fingerprint: fingerprint), nil) }
            if f == fingerprint, let entry = entries[slot], entry.labels == labels, entry.name == name, entry.tenantID == tenantID {
                return (Probe(slot: slot, fingerprint: fingerprint), entry.value)
            }
            slot = (slot + 1) & mask
        }
    }

    /// Remembers `value` for the key `find` was asked about (with no change to the table in
    /// between): a new entry after a miss, a new value after a hit.
    @inlinable
    public mutating func fill(_ probe: Probe, tenantID: String?, name: String, labels: Labels, value: Value) {
        if fingerprints.isEmpty {
            fingerprints = Array(repeating: 0, count: slotCount)
            entries = Array(repeating: nil, count: slotCount)
        }
        // The slot `find` stopped at: free after a miss, this key's after a hit.
        var slot = probe.slot
        if fingerprints[slot] == 0 {
            if count >= slotCount / 2 {
                removeAll()
                slot = Int(truncatingIfNeeded: probe.fingerprint) & (slotCount - 1)
            }
            count += 1
        }
        fingerprints[slot] = probe.fingerprint
        entries[slot] = Entry(tenantID: tenantID, name: name, labels: labels, value: value)
    }

    /// Forgets every entry, keeping the storage.
    @inlinable
    public mutating func removeAll() {
        guard count > 0 else { return }
        for i in fingerprints.indices where fingerprints[i] != 0 {
            fingerprints[i] = 0
            entries[i] = nil
        }
        count = 0
    }

    @inlinable @inline(__always)
    static func fingerprint(_ tenantID: String?, _ name: String, _ labels: Labels) -> UInt64 {
        var h = UInt64(labels.storageAddress) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ bytesHash(name)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        h = (h ^ (tenantID.map(bytesHash) ?? 0x632B_E59B_D9B4_E019)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }

    @inlinable @inline(__always)
    static func bytesHash(_ s: String) -> UInt64 {
        if let h = s.utf8.withContiguousStorageIfAvailable(InternTable.hash) { return h }
        var hasher = Hasher()
        hasher.combine(s)
        return UInt64(truncatingIfNeeded: hasher.finalize())
    }
}

extension SeriesLookupCache: Sendable where Value: Sendable {}
extension SeriesLookupCache.Probe: Sendable {}
extension SeriesLookupCache.Entry: Sendable where Value: Sendable {}
