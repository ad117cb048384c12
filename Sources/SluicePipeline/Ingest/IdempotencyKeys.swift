import DequeModule
import Synchronization

/// The `Idempotency-Key`s seen within `server.idempotency_window` (design §5), per scope (a
/// tenant, or the admin scope), with the answer each one got.
///
/// A request with a key *claims* it before anything is decoded:
/// - a key that took records before gets its receipt back (`replay`), once those records are
///   as durable as its first answer said;
/// - a key another request is still working on is `busy` (the client retries later);
/// - a new key proceeds, and the request either *takes* records, leaving its receipt here and
///   in the store beside them, or ends without taking any, which frees the key again.
///
/// Keys expire by the time their records were taken. The store keeps receipts in the blocks of
/// the records they answer for, so `restore` after a restart knows exactly the keys whose
/// records survived.
public final class IdempotencyKeys: Sendable {
    /// Keys are kept this long, µs.
    public let window: Int64

    private struct ScopedKey: Hashable {
        var scope: String
        var key: String
    }

    private enum Entry {
        /// A request holds the key and has not taken records yet.
        case inFlight(UInt64)
        /// Records were taken: the answer, and what says when they are durable (`nil`: at once).
        case taken(IngestReceipt, Acknowledgement?)
    }

    private struct State {
        var entries: [ScopedKey: Entry] = [:]
        /// Taken keys in the order they expire.
        var expiry: Deque<(time: Int64, key: ScopedKey)> = []
        var nextClaim: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(window: Int64) {
        self.window = window
    }

    /// What a claim comes to.
    public enum Claim: Sendable {
        /// A new key: the request goes on, holding `ticket`.
        case proceed(Ticket)
        /// Seen before: answer with the receipt, once `acknowledgement` (if any) says stored.
        case replay(IngestReceipt, Acknowledgement?)
        /// Another request with this key is in progress.
        case busy
    }

    /// A request's hold on a new key.
    public struct Ticket: Sendable {
        public let scope: String
        public let key: String
        let id: UInt64
        let keys: IdempotencyKeys

        /// The records were taken: retries get `receipt`, once `acknowledgement` (if any) resolves.
        public func taken(_ receipt: IngestReceipt, acknowledgement: Acknowledgement?) {
            keys.taken(self, receipt, acknowledgement)
        }

        /// The request is over: a key that took nothing is free again.
        public func end() { keys.end(self) }
    }

    /// Claims `key` for `scope` at `now` (µs); expired keys are forgotten first.
    public func claim(scope: String, key: String, now: Int64) -> Claim {
        state.withLock { s in
            expire(&s, now: now)
            let scoped = ScopedKey(scope: scope, key: key)
            switch s.entries[scoped] {
            case .inFlight?:
                return .busy
            case .taken(let receipt, let acknowledgement)?:
                return .replay(receipt, acknowledgement)
            case nil:
                s.nextClaim += 1
                s.entries[scoped] = .inFlight(s.nextClaim)
                return .proceed(Ticket(scope: scope, key: key, id: s.nextClaim, keys: self))
            }
        }
    }

    /// Receipts found in the store at start: their keys are taken (and durable).
    public func restore(_ receipts: [IngestReceipt], now: Int64) {
        state.withLock { s in
            for r in receipts.sorted(by: { $0.time < $1.time }) where r.time > now - window {
                let scoped = ScopedKey(scope: r.scope, key: r.key)
                if s.entries[scoped] == nil { s.expiry.append((r.time, scoped)) }
                s.entries[scoped] = .taken(r, nil)
            }
        }
    }

    /// Keys held now (taken or in flight).
    public var count: Int { state.withLock { $0.entries.count } }

    private func taken(_ ticket: Ticket, _ receipt: IngestReceipt, _ acknowledgement: Acknowledgement?) {
        state.withLock { s in
            let scoped = ScopedKey(scope: ticket.scope, key: ticket.key)
            guard case .inFlight(ticket.id)? = s.entries[scoped] else { return }
            s.entries[scoped] = .taken(receipt, acknowledgement)
            // Receipt times only grow within a process (the wall clock may step back a little:
            // such a key then expires with the one before it).
            s.expiry.append((max(receipt.time, s.expiry.last?.time ?? receipt.time), scoped))
        }
    }

    private func end(_ ticket: Ticket) {
        state.withLock { s in
            let scoped = ScopedKey(scope: ticket.scope, key: ticket.key)
            if case .inFlight(ticket.id)? = s.entries[scoped] { s.entries[scoped] = nil }
        }
    }

    private func expire(_ s: inout State, now: Int64) {
        while let first = s.expiry.first, first.time <= now - window {
            s.expiry.removeFirst()
            if case .taken(let receipt, _)? = s.entries[first.key], receipt.time <= now - window { s.entries[first.key] = nil }
        }
    }

    /// Whether `key` can be an `Idempotency-Key` (design §5): 1 to 200 printable ASCII characters.
    public static func problem(_ key: String) -> String? {
        let utf8 = key.utf8
        if utf8.isEmpty { return "Idempotency-Key is empty" }
        if utf8.count > 200 { return "Idempotency-Key is \(utf8.count) characters long; the limit is 200" }
        if let bad = utf8.first(where: { $0 < 0x20 || $0 > 0x7E }) {
            return "Idempotency-Key holds byte 0x\(String(bad, radix: 16, uppercase: true)); only printable ASCII is allowed"
        }
        return nil
    }
}
