/// A direct-mapped cache in front of a map keyed by series (tenant, name, labels), for streams
/// whose records share label storage: the decoder's `InternTable` gives every record with the
/// same label set the same array.
///
/// A slot is found by a hash of the two short names and the *address* of the labels' storage,
/// so no label string is hashed again; a hit is confirmed with `==`, which shared storage
/// answers by identity. Labels with equal content but their own storage (another decode
/// lane's, or a one-off HTTP body's) just take another slot, or miss and ask the map.
///
/// It never answers wrongly: a slot holds the key it was filled for and every hit compares it,
/// and holding the key keeps its storage alive, so no other label set can be given that
/// address while the slot names it.
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
        @usableFromInline var fingerprint: UInt64
        @usableFromInline var tenantID: String?
        @usableFromInline var name: String
        @usableFromInline var labels: Labels
        @usableFromInline var value: Value

        @inlinable
        init(fingerprint: UInt64, tenantID: String?, name: String, labels: Labels, value: Value) {
            self.fingerprint = fingerprint
            self.tenantID = tenantID
            self.name = name
            self.labels = labels
            self.value = value
        }
    }

    @usableFromInline var entries: [Entry?] = []
    @usableFromInline let slotCount: Int

    /// `slots` is rounded up to a power of two; the storage is made at the first miss.
    @inlinable
    public init(slots: Int = 4_096) {
        var n = 1
        while n < max(1, slots) { n <<= 1 }
        slotCount = n
    }

    /// The value filled for an equal key, if its slot still holds it.
    @inlinable
    public func find(tenantID: String?, name: String, labels: Labels) -> (probe: Probe, value: Value?) {
        let fingerprint = Self.fingerprint(tenantID, name, labels)
        let slot = Int(truncatingIfNeeded: fingerprint) & (slotCount - 1)
        let probe = Probe(slot: slot, fingerprint: fingerprint)
        guard !entries.isEmpty, let entry = entries[slot], entry.fingerprint == fingerprint,
              entry.labels == labels, entry.name == name, entry.tenantID == tenantID
        else { return (probe, nil) }
        return (probe, entry.value)
    }

    /// Remembers `value` for the key `find` missed.
    @inlinable
    public mutating func fill(_ probe: Probe, tenantID: String?, name: String, labels: Labels, value: Value) {
        if entries.isEmpty { entries = Array(repeating: nil, count: slotCount) }
        entries[probe.slot] = Entry(fingerprint: probe.fingerprint, tenantID: tenantID, name: name, labels: labels, value: value)
    }

    /// Forgets every slot, keeping the storage.
    @inlinable
    public mutating func removeAll() {
        for i in entries.indices { entries[i] = nil }
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
