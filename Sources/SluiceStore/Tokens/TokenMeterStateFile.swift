#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceModel
import SluicePipeline

/// The token meter's checkpoint in a data directory (`tokens/meter.state`): totals, the dedupe
/// window, the burn-rate windows and the alerts and forecasts already raised, written as one
/// file and replaced atomically, so a restart resumes from a consistent point whatever moment
/// the process died.
///
/// Version 2 appends the burn-rate windows and the forecasts raised to version 1's fields.
/// A version-1 checkpoint still loads: its tenants measure their rate afresh from the next
/// record, and no forecast had been raised.
public struct TokenMeterStateFile: TokenMeterPersistence {
    let directory: DataDirectory
    static let name = "tokens/meter.state"
    static let magic: [UInt8] = Array("SLUICETM".utf8)
    static let version: UInt8 = 2
    static let readable: ClosedRange<UInt8> = 1...2
    static let envelope = StateFileEnvelope(magic: magic, what: "a token meter checkpoint", afresh: "totals would restart from zero")

    public var path: String { directory.path + "/" + Self.name }

    public init(directory: DataDirectory) throws(StoreError) {
        self.directory = directory
    }

    public func load() throws -> TokenMeter.StateMachine.State? {
        guard let bytes = try directory.readFile(Self.name) else { return nil }
        let (version, body) = try Self.envelope.unwrap(bytes, path: path, readable: Self.readable)
        return try Self.decode(body, version: version)
    }

    /// Raw `token_usage` records in the store from `since` on, in timestamp order (ties as
    /// stored): the same order whatever the crash, so a rebuild is deterministic.
    public func storedRecords(since: Int64?) throws -> [TokenUsageRecord] {
        let query = StoreQuery(kinds: [.tokenUsage], from: since.map { Timestamp(microseconds: $0) })
        var records: [TokenUsageRecord] = []
        try StoreReader(directory: directory).forEach(query) { stored in
            if case .record(.tokenUsage(let r)) = stored { records.append(r) }
        }
        return records
    }

    public func save(_ state: TokenMeter.StateMachine.State) throws {
        try directory.writeFile(Self.name, Self.envelope.wrap(Self.encode(state), version: Self.version))
    }

    typealias State = TokenMeter.StateMachine.State
    typealias UsageKey = TokenMeter.StateMachine.UsageKey
    typealias Totals = TokenMeter.StateMachine.Totals

    static func encode(_ s: State) -> [UInt8] {
        var w = ByteWriter()
        func key(_ k: UsageKey) {
            w.string(k.tenantID); w.string(k.model); w.u8(k.period == .day ? 0 : 1); w.signed(k.start)
        }
        func totals(_ t: Totals) {
            w.varint(t.requests); w.varint(t.prompt); w.varint(t.completion); w.varint(t.cached)
            w.u64(UInt64(truncatingIfNeeded: t.costPico)); w.u64(UInt64(truncatingIfNeeded: t.costPico >> 64)); w.u8(t.unpriced ? 1 : 0)
        }
        for map in [s.days, s.months, s.closedPeriods] {
            w.varint(map.count)
            for (k, t) in map.sorted(by: { $0.key < $1.key }) { key(k); totals(t) }
        }
        w.varint(s.revisedPeriods.count)
        for k in s.revisedPeriods.sorted() { key(k) }
        w.varint(s.firedAlerts.count)
        for a in s.firedAlerts.sorted(by: { ($0.tenantID, $0.month, $0.threshold) < ($1.tenantID, $1.month, $1.threshold) }) {
            w.string(a.tenantID); w.signed(a.month); w.u64(a.threshold.bitPattern); w.u8(a.usd ? 1 : 0)
        }
        w.varint(s.dedupe.count)
        for (k, f) in s.dedupe {
            w.string(k.tenantID); w.string(k.requestID)
            w.string(f.model); w.varint(f.prompt); w.varint(f.completion); w.varint(f.cached); w.signed(f.time)
        }
        w.varint(s.dedupeOrder.count)
        for e in s.dedupeOrder { w.signed(e.time); w.string(e.key.tenantID); w.string(e.key.requestID) }
        w.signed(s.watermark)
        w.varint(s.counters.count)
        for (name, n) in s.counters.sorted(by: { $0.key < $1.key }) { w.string(name); w.varint(n) }
        // Version 2.
        w.varint(s.burn.count)
        for (tenant, b) in s.burn.sorted(by: { $0.key < $1.key }) {
            w.string(tenant); w.signed(b.bucketWidth); w.signed(b.month); w.signed(b.first); w.signed(b.newest)
            w.varint(b.tokens.count)
            for (n, pico) in zip(b.tokens, b.costPico) {
                w.varint(n); w.u64(UInt64(truncatingIfNeeded: pico)); w.u64(UInt64(truncatingIfNeeded: pico >> 64))
            }
        }
        w.varint(s.firedForecasts.count)
        for a in s.firedForecasts.sorted(by: { ($0.tenantID, $0.month, $0.threshold, $0.usd ? 1 : 0) < ($1.tenantID, $1.month, $1.threshold, $1.usd ? 1 : 0) }) {
            w.string(a.tenantID); w.signed(a.month); w.u64(a.threshold.bitPattern); w.u8(a.usd ? 1 : 0)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], version: UInt8 = version) throws(StoreError) -> State {
        var r = ByteReader(bytes)
        var s = State()
        func key() throws(StoreError) -> UsageKey {
            UsageKey(tenantID: try r.string(), model: try r.string(), period: try r.u8() == 0 ? .day : .month, start: try r.signed())
        }
        func totals() throws(StoreError) -> Totals {
            var t = Totals()
            t.requests = try r.varint(); t.prompt = try r.varint(); t.completion = try r.varint(); t.cached = try r.varint()
            let low = try r.u64(), high = try r.u64()
            t.costPico = Int128(Int64(bitPattern: high)) << 64 | Int128(low)
            t.unpriced = try r.u8() == 1
            return t
        }
        var maps: [[UsageKey: Totals]] = []
        for _ in 0..<3 {
            var map: [UsageKey: Totals] = [:]
            for _ in 0..<(try r.count()) { let k = try key(); map[k] = try totals() }
            maps.append(map)
        }
        (s.days, s.months, s.closedPeriods) = (maps[0], maps[1], maps[2])
        for _ in 0..<(try r.count()) { s.revisedPeriods.insert(try key()) }
        for _ in 0..<(try r.count()) {
            s.firedAlerts.insert(.init(tenantID: try r.string(), month: try r.signed(), threshold: Double(bitPattern: try r.u64()), usd: try r.u8() == 1))
        }
        for _ in 0..<(try r.count()) {
            let k = TokenMeter.StateMachine.DedupeKey(tenantID: try r.string(), requestID: try r.string())
            s.dedupe[k] = .init(model: try r.string(), prompt: try r.varint(), completion: try r.varint(), cached: try r.varint(), time: try r.signed())
        }
        for _ in 0..<(try r.count()) {
            let time = try r.signed()
            s.dedupeOrder.append(.init(time: time, key: .init(tenantID: try r.string(), requestID: try r.string())))
        }
        s.watermark = try r.signed()
        for _ in 0..<(try r.count()) { let name = try r.string(); s.counters[name] = try r.varint() }
        guard version >= 2 else { return s }
        for _ in 0..<(try r.count()) {
            let tenant = try r.string()
            let width = try r.signed(), month = try r.signed(), first = try r.signed(), newest = try r.signed()
            let buckets = try r.count()
            guard buckets == TokenMeter.StateMachine.BurnWindow.buckets, width > 0 else {
                throw .corrupt("token meter checkpoint: a burn-rate window of \(buckets) buckets of \(width) µs")
            }
            var tokens: [UInt64] = [], pico: [Int128] = []
            for _ in 0..<buckets {
                tokens.append(try r.varint())
                let low = try r.u64(), high = try r.u64()
                pico.append(Int128(Int64(bitPattern: high)) << 64 | Int128(low))
            }
            s.burn[tenant] = .init(bucketWidth: width, month: month, first: first, newest: newest, tokens: tokens, costPico: pico)
        }
        for _ in 0..<(try r.count()) {
            s.firedForecasts.insert(.init(tenantID: try r.string(), month: try r.signed(), threshold: Double(bitPattern: try r.u64()), usd: try r.u8() == 1))
        }
        return s
    }
}
