import Testing
import SluiceModel

@Suite("Series lookup cache")
struct SeriesLookupCacheTests {
    struct Key: Hashable {
        var tenantID: String?
        var name: String
        var labels: Labels
    }

    /// Keys as a stream gives them: a few label sets shared by many records (interned), the
    /// same contents in storage of their own, names short and long (past the 15 bytes kept
    /// inline), tenants present and absent, and near misses that differ in one byte. With
    /// `freshStrings`, one name and one tenant in four are also made afresh from their bytes, as
    /// a decoder without an intern table makes them.
    static func stream(count: Int, seed: UInt64, freshStrings: Bool) -> [Key] {
        var random = SeededRandom(seed: seed)
        let names = ["cpu", "cpu_", "http_server_request_duration_seconds", "http_server_request_duration_secondz", ""]
        let tenants: [String?] = [nil, "", "t1", "t10", "tenant-with-a-long-identifier"]
        let shared: [Labels] = (0..<40).map { ["host": "h\($0 % 8)", "region": $0 < 20 ? "eu" : "eu-west-1-availability-zone-b"] } + [.empty]
        func afresh(_ s: String) -> String { String(decoding: Array(s.utf8), as: UTF8.self) }
        return (0..<count).map { _ in
            let base = shared[Int(random.next() % UInt64(shared.count))]
            // One record in four builds its labels afresh: equal contents, other storage.
            let labels = random.next() % 4 == 0 ? Labels(base.map { $0 }) : base
            var name = names[Int(random.next() % 5)]
            var tenant = tenants[Int(random.next() % 5)]
            if freshStrings {
                if random.next() % 4 == 0 { name = afresh(name) }
                if random.next() % 4 == 0 { tenant = tenant.map(afresh) }
            }
            return Key(tenantID: tenant, name: name, labels: labels)
        }
    }

    @Test("answers only what was filled for an equal key, whatever the slot count and wherever the strings are stored",
          arguments: [1, 2, 64, 8_192], [false, true])
    func agreesWithADictionary(slots: Int, freshStrings: Bool) {
        // Starting at 2 slots, a large table doubles many times on the way.
        var cache = SeriesLookupCache<Int>(slots: slots, initialSlots: 2)
        var oracle: [Key: Int] = [:]
        var hits = 0
        for key in Self.stream(count: 20_000, seed: UInt64(slots), freshStrings: freshStrings) {
            let expected = oracle[key] ?? { oracle[key] = oracle.count; return oracle.count - 1 }()
            let (probe, cached) = cache.find(tenantID: key.tenantID, name: key.name, labels: key.labels)
            if let cached {
                #expect(cached == expected, "cache answered \(cached) for \(key), which is series \(expected)")
                hits += 1
            } else {
                cache.fill(probe, tenantID: key.tenantID, name: key.name, labels: key.labels, value: expected)
            }
        }
        #expect(oracle.count == 425)  // 17 label sets × 5 names × 5 tenants, all seen
        // With room for every series, nearly every record whose labels share storage hits.
        if slots == 8_192 && !freshStrings { #expect(hits > 10_000) }
    }

    @Test("a value filled again after a hit replaces the old one, and a full table starts over")
    func refillAndReset() {
        var cache = SeriesLookupCache<Int>(slots: 8)  // holds 4
        let keys: [Labels] = (0..<5).map { ["host": "h\($0)"] }
        for (i, labels) in keys.prefix(4).enumerated() {
            let (probe, value) = cache.find(tenantID: "t", name: "cpu", labels: labels)
            #expect(value == nil)
            cache.fill(probe, tenantID: "t", name: "cpu", labels: labels, value: i)
        }
        for (i, labels) in keys.prefix(4).enumerated() {
            let (probe, value) = cache.find(tenantID: "t", name: "cpu", labels: labels)
            #expect(value == i)
            cache.fill(probe, tenantID: "t", name: "cpu", labels: labels, value: i + 10)
        }
        for (i, labels) in keys.prefix(4).enumerated() { #expect(cache.find(tenantID: "t", name: "cpu", labels: labels).value == i + 10) }
        // A fifth key does not fit: the table starts over with it alone.
        let (probe, _) = cache.find(tenantID: "t", name: "cpu", labels: keys[4])
        cache.fill(probe, tenantID: "t", name: "cpu", labels: keys[4], value: 4)
        #expect(cache.find(tenantID: "t", name: "cpu", labels: keys[4]).value == 4)
        #expect(keys.prefix(4).allSatisfy { cache.find(tenantID: "t", name: "cpu", labels: $0).value == nil })
    }

    @Test("a table that starts small and doubles keeps every entry through each doubling, and starts over only once it has all its slots")
    func growth() {
        var cache = SeriesLookupCache<Int>(slots: 1_024, initialSlots: 4)  // holds 2, then 4, 8, … 512
        let keys: [Labels] = (0..<600).map { ["host": "h\($0)"] }
        for (i, labels) in keys.prefix(512).enumerated() {
            let (probe, value) = cache.find(tenantID: "t", name: "cpu", labels: labels)
            #expect(value == nil)
            cache.fill(probe, tenantID: "t", name: "cpu", labels: labels, value: i)
            // Everything filled so far is still there, whatever doublings that fill made.
            if i.nonzeroBitCount == 1 || i == 511 {
                for (j, earlier) in keys.prefix(i + 1).enumerated() { #expect(cache.find(tenantID: "t", name: "cpu", labels: earlier).value == j) }
            }
        }
        // The 513th does not fit in 1,024 slots: the table starts over with it alone.
        let (probe, _) = cache.find(tenantID: "t", name: "cpu", labels: keys[512])
        cache.fill(probe, tenantID: "t", name: "cpu", labels: keys[512], value: 512)
        #expect(cache.find(tenantID: "t", name: "cpu", labels: keys[512]).value == 512)
        #expect(keys.prefix(512).allSatisfy { cache.find(tenantID: "t", name: "cpu", labels: $0).value == nil })
    }

    @Test("a key differing only in its tenant (absent against empty) or one byte of its name is a miss")
    func nearMisses() {
        var cache = SeriesLookupCache<Int>(slots: 2)
        let labels: Labels = ["host": "a"]
        let (probe, first) = cache.find(tenantID: nil, name: "http_server_request_duration_seconds", labels: labels)
        #expect(first == nil)
        cache.fill(probe, tenantID: nil, name: "http_server_request_duration_seconds", labels: labels, value: 1)
        #expect(cache.find(tenantID: nil, name: "http_server_request_duration_seconds", labels: labels).value == 1)
        #expect(cache.find(tenantID: "", name: "http_server_request_duration_seconds", labels: labels).value == nil)
        #expect(cache.find(tenantID: nil, name: "http_server_request_duration_secondz", labels: labels).value == nil)
        #expect(cache.find(tenantID: nil, name: "http_server_request_duration_seconds", labels: ["host": "b"]).value == nil)
        cache.removeAll()
        #expect(cache.find(tenantID: nil, name: "http_server_request_duration_seconds", labels: labels).value == nil)
    }
}
