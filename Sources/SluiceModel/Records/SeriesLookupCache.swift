/// A bounded table in front of a map keyed by series (tenant, name, labels), for streams whose
/// records share storage: the decoder's `InternTable` gives every record with the same label
/// set the same array, and every repeat of a name or tenant the same string.
///
/// A key is known by identity: the *address* of the labels' storage and the raw bits of the
/// two strings (which are the bytes themselves for a string of up to 15 bytes, and its storage
/// otherwise). Finding one hashes and compares those five words in one slot, with no string
/// hashed or compared and no reference counted. Equal contents in storage of their own (a
/// one-off HTTP body's, another decode lane's) are another key to the table, and just take
/// another entry.
///
/// It never answers wrongly: equal identities mean equal keys, and the table holds each key it
/// was filled for, so its storage cannot be freed and its address or bits given to another
/// while an entry names them. It holds at most half as many entries as it has slots (open
/// addressing, linear probing). It starts small and doubles as entries come, so that a
/// thousand series probe 128 KB, not the whole table's half a megabyte (each probe is a cache
/// miss: the smaller the table, the likelier it stays in a core's cache). Once it has all its
/// slots, filling one more starts it over, so a stream of ever-new series costs a reset now
/// and then, not memory.
@frozen
public struct SeriesLookupCache<Value> {
    /// Where `find` looked: pass it to `fill` after asking the map on a miss.
    @frozen
    public struct Probe {
        @usableFromInline let slot: Int
        @usableFromInline let identity: Identity

        @inlinable
        init(slot: Int, identity: Identity) {
            self.slot = slot
            self.identity = identity
        }
    }

    /// A key's storage, as plain words.
    @usableFromInline @frozen
    struct Identity {
        @usableFromInline var labels: UInt
        @usableFromInline var name: (UInt64, UInt64)
        @usableFromInline var tenant: (UInt64, UInt64)
        /// A mix of the rest, never 0 (0 marks a free slot).
        @usableFromInline var fingerprint: UInt64

        @inlinable @inline(__always)
        init(tenantID: String?, name: String, labels: Labels) {
            self.labels = labels.storageAddress
            self.name = unsafeBitCast(name, to: (UInt64, UInt64).self)
            self.tenant = unsafeBitCast(tenantID, to: (UInt64, UInt64).self)
            var h = UInt64(self.labels) &* 0x9E37_79B9_7F4A_7C15
            h = (h ^ self.name.0 ^ (self.name.1 &* 0x2545_F491_4F6C_DD1D)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            h = (h ^ self.tenant.0 ^ (self.tenant.1 &* 0x2545_F491_4F6C_DD1D)) &* 0x94D0_49BB_1331_11EB
            fingerprint = (h ^ (h >> 29)) | 1
        }

        @inlinable @inline(__always)
        func same(as other: Identity) -> Bool {
            fingerprint == other.fingerprint && labels == other.labels && name == other.name && tenant == other.tenant
        }
    }

    /// What a slot holds: only plain words, so probing touches one place and counts no references.
    @usableFromInline @frozen
    struct Slot {
        @usableFromInline var identity: Identity
        @usableFromInline var value: Value

        @inlinable
        init(identity: Identity, value: Value) {
            self.identity = identity
            self.value = value
        }
    }

    /// The key of an entry, held so that its storage outlives the entry.
    @usableFromInline @frozen
    struct Key {
        @usableFromInline var tenantID: String?
        @usableFromInline var name: String
        @usableFromInline var labels: Labels

        @inlinable
        init(tenantID: String?, name: String, labels: Labels) {
            self.tenantID = tenantID
            self.name = name
            self.labels = labels
        }
    }

    /// `nil` where the slot is free.
    @usableFromInline var slots: [Slot?] = []
    /// Per slot, the key its entry was filled for.
    @usableFromInline var keys: [Key?] = []
    @usableFromInline var count = 0
    /// Slots now: doubles up to `maximumSlots`.
    @usableFromInline var slotCount: Int
    @usableFromInline let maximumSlots: Int

    /// `slots` is rounded up to a power of two (at least 2), and holds half as many entries.
    /// The table starts at `initialSlots` (rounded likewise, at most `slots`), made at the
    /// first miss.
    @inlinable
    public init(slots: Int = 8_192, initialSlots: Int = 256) {
        var n = 2
        while n < slots { n <<= 1 }
        maximumSlots = n
        var m = 2
        while m < min(initialSlots, n) { m <<= 1 }
        slotCount = m
    }

    /// The value filled for the same key, if the table still holds it. Always inlined: it is
    /// a hash and a probe, and its callers run it once a record.
    @inlinable @inline(__always)
    public func find(tenantID: String?, name: String, labels: Labels) -> (probe: Probe, value: Value?) {
        let identity = Identity(tenantID: tenantID, name: name, labels: labels)
        let mask = slotCount - 1
        var slot = Int(truncatingIfNeeded: identity.fingerprint) & mask
        guard !slots.isEmpty else { return (Probe(slot: slot, identity: identity), nil) }
        return slots.withUnsafeBufferPointer { slots in
            // At most half the slots are taken, so a free one ends every probe.
            while let entry = slots[slot] {
                if entry.identity.same(as: identity) { return (Probe(slot: slot, identity: identity), entry.value) }
                slot = (slot + 1) & mask
            }
            return (Probe(slot: slot, identity: identity), nil)
        }
    }

    /// Remembers `value` for the key `find` was asked about (with no change to the table in
    /// between): a new entry after a miss, a new value after a hit.
    @inlinable
    public mutating func fill(_ probe: Probe, tenantID: String?, name: String, labels: Labels, value: Value) {
        if slots.isEmpty {
            slots = Array(repeating: nil, count: slotCount)
            keys = Array(repeating: nil, count: slotCount)
        }
        // The slot `find` stopped at: free after a miss, this key's after a hit.
        var slot = probe.slot
        if slots[slot] == nil {
            if count >= slotCount / 2 {
                if slotCount < maximumSlots { grow() } else { removeAll() }
                slot = freeSlot(for: probe.identity)
            }
            count += 1
            keys[slot] = Key(tenantID: tenantID, name: name, labels: labels)
        }
        slots[slot] = Slot(identity: probe.identity, value: value)
    }

    /// Twice the slots, every entry kept.
    @usableFromInline
    mutating func grow() {
        let (oldSlots, oldKeys) = (slots, keys)
        slotCount *= 2
        slots = Array(repeating: nil, count: slotCount)
        keys = Array(repeating: nil, count: slotCount)
        for i in oldSlots.indices {
            guard let entry = oldSlots[i] else { continue }
            let slot = freeSlot(for: entry.identity)
            slots[slot] = entry
            keys[slot] = oldKeys[i]
        }
    }

    /// Where a key not in the table goes.
    @inlinable
    func freeSlot(for identity: Identity) -> Int {
        let mask = slotCount - 1
        var slot = Int(truncatingIfNeeded: identity.fingerprint) & mask
        while slots[slot] != nil { slot = (slot + 1) & mask }
        return slot
    }

    /// Forgets every entry, keeping the storage.
    @inlinable
    public mutating func removeAll() {
        guard count > 0 else { return }
        for i in slots.indices where slots[i] != nil {
            slots[i] = nil
            keys[i] = nil
        }
        count = 0
    }
}

extension SeriesLookupCache: Sendable where Value: Sendable {}
extension SeriesLookupCache.Probe: Sendable {}
extension SeriesLookupCache.Identity: Sendable {}
extension SeriesLookupCache.Slot: Sendable where Value: Sendable {}
extension SeriesLookupCache.Key: Sendable {}
