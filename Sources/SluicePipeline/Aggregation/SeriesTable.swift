/// Values keyed by series number (`SeriesRegistry`'s small dense integers), found by indexing
/// rather than hashing.
///
/// A pane takes one lookup per sample, so the lookup is a cost every record pays. A
/// `Dictionary` hashes the number with SipHash and probes buckets spread over its storage;
/// here a number's position is one read from a small array of 4 bytes a series, which stays
/// in a core's cache. Removal moves the last value into the gap. Iteration is in insertion
/// order, changed only by removals: the same operations give the same order in every process
/// (a `Dictionary`'s order changes with each process's hash seed).
public struct SeriesTable<Value> {
    /// By series number: the position of its value plus one, 0 when it has none. As long as the
    /// highest number used, 4 bytes a series.
    @usableFromInline var positions: [Int32] = []
    /// The series number of each value.
    public private(set) var keys: [Int32] = []
    @usableFromInline var values: [Value] = []

    public init() {}

    public var count: Int { values.count }
    public var isEmpty: Bool { values.isEmpty }

    public mutating func reserveCapacity(_ n: Int) {
        keys.reserveCapacity(n)
        values.reserveCapacity(n)
    }

    /// Where `id`'s value lies in `values`, or `nil` when it has none.
    @inlinable
    func position(of id: Int32) -> Int? {
        let i = Int(id)
        guard i >= 0, i < positions.count else { return nil }
        let p = Int(positions[i])
        return p == 0 ? nil : p - 1
    }

    public subscript(id: Int32) -> Value? {
        get { position(of: id).map { values[$0] } }
        set {
            if let newValue {
                if let p = position(of: id) { values[p] = newValue } else { _ = append(id, newValue) }
            } else {
                remove(id)
            }
        }
    }

    /// What `body` finds in the value of `id`, read where it lies; `nil` when there is none.
    @inlinable @inline(__always)
    func withValue<R>(_ id: Int32, _ body: (borrowing Value) -> R?) -> R? {
        guard let p = position(of: id) else { return nil }
        return values.withUnsafeBufferPointer { body($0[p]) }
    }

    /// The value of `id`, added as `defaultValue` first when there is none; mutated in place.
    @inlinable
    public subscript(id: Int32, default defaultValue: @autoclosure () -> Value) -> Value {
        get { position(of: id).map { values[$0] } ?? defaultValue() }
        _modify {
            let p = position(of: id) ?? append(id, defaultValue())
            yield &values[p]
        }
    }

    /// Sets the value of `id`; returns the one it replaced, if any.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey id: Int32) -> Value? {
        if let p = position(of: id) {
            let old = values[p]
            values[p] = value
            return old
        }
        _ = append(id, value)
        return nil
    }

    @usableFromInline
    mutating func append(_ id: Int32, _ value: Value) -> Int {
        precondition(id >= 0, "series numbers are not negative")
        let i = Int(id)
        if i >= positions.count { positions.append(contentsOf: repeatElement(0, count: i + 1 - positions.count)) }
        positions[i] = Int32(values.count + 1)
        keys.append(id)
        values.append(value)
        return values.count - 1
    }

    private mutating func remove(_ id: Int32) {
        guard let p = position(of: id) else { return }
        let last = values.count - 1
        if p != last {
            values.swapAt(p, last)
            keys.swapAt(p, last)
            positions[Int(keys[p])] = Int32(p + 1)
        }
        values.removeLast()
        keys.removeLast()
        positions[Int(id)] = 0
    }
}

extension SeriesTable: Sequence {
    public struct Iterator: IteratorProtocol {
        let table: SeriesTable
        var position = 0

        public mutating func next() -> (key: Int32, value: Value)? {
            guard position < table.values.count else { return nil }
            defer { position += 1 }
            return (table.keys[position], table.values[position])
        }
    }

    public func makeIterator() -> Iterator { Iterator(table: self) }
    public var underestimatedCount: Int { count }
}

extension SeriesTable: Sendable where Value: Sendable {}
extension SeriesTable.Iterator: Sendable where Value: Sendable {}
