/// A record's labels: string pairs kept sorted by key, so that two records with the same labels
/// in any order key the same series and print identically.
public struct Labels: Sendable, Hashable, Comparable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Label: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) { self.key = key; self.value = value }
    }

    /// Sorted by key, keys unique.
    public private(set) var pairs: [Label]

    public static let empty = Labels()

    public init() { pairs = [] }

    /// Builds labels from pairs in any order; a later duplicate key wins, as in a JSON object.
    public init(_ unsorted: [Label]) {
        // Most label objects arrive sorted with unique keys: keep the array as it is.
        var sorted = true
        for i in unsorted.indices.dropFirst() where !(unsorted[i - 1].key < unsorted[i].key) {
            sorted = false
            break
        }
        if sorted {
            pairs = unsorted
            return
        }
        var merged: [Label] = []
        merged.reserveCapacity(unsorted.count)
        for label in unsorted {
            merged.removeAll { $0.key == label.key }
            merged.append(label)
        }
        merged.sort { $0.key < $1.key }
        pairs = merged
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements.map { Label(key: $0.0, value: $0.1) })
    }

    public var isEmpty: Bool { pairs.isEmpty }

    /// The address of the pairs' storage: the same for labels that share it (the decoder's
    /// interned ones), and not reused for others while any of them lives.
    @inlinable
    public var storageAddress: UInt { pairs.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
    public var count: Int { pairs.count }

    public subscript(key: String) -> String? { pairs.first { $0.key == key }?.value }

    /// A copy with `key` set to `value` (replacing an existing value).
    public func setting(_ key: String, to value: String) -> Labels {
        var copy = pairs
        if let i = copy.firstIndex(where: { $0.key == key }) {
            copy[i].value = value
            return Labels(sortedUnique: copy)
        }
        let i = copy.firstIndex { $0.key > key } ?? copy.endIndex
        copy.insert(Label(key: key, value: value), at: i)
        return Labels(sortedUnique: copy)
    }

    init(sortedUnique: [Label]) { pairs = sortedUnique }

    public func makeIterator() -> IndexingIterator<[Label]> { pairs.makeIterator() }

    /// Lexicographic by (key, value) pairs: the last tie-breaker of the output order.
    public static func < (lhs: Labels, rhs: Labels) -> Bool {
        for (l, r) in zip(lhs.pairs, rhs.pairs) {
            if l.key != r.key { return l.key < r.key }
            if l.value != r.value { return l.value < r.value }
        }
        return lhs.pairs.count < rhs.pairs.count
    }
}
