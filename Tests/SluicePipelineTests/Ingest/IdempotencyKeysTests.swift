import Testing
import SluicePipeline

@Suite("Idempotency keys")
struct IdempotencyKeysTests {
    static func receipt(_ key: String, scope: String = "site-a", time: Int64) -> IngestReceipt {
        IngestReceipt(scope: scope, key: key, time: time, status: 202, contentType: "application/json", body: Array("{\"accepted\":1}\n".utf8))
    }

    @Test("a new key proceeds; while it is in flight it is busy; once taken, retries replay its receipt")
    func lifecycle() throws {
        let keys = IdempotencyKeys(window: 1_000)
        guard case .proceed(let ticket) = keys.claim(scope: "site-a", key: "k", now: 0) else { Issue.record("a new key proceeds"); return }
        guard case .busy = keys.claim(scope: "site-a", key: "k", now: 1) else { Issue.record("in flight: busy"); return }
        // The same key from another tenant is another key.
        guard case .proceed(let other) = keys.claim(scope: "site-b", key: "k", now: 1) else { Issue.record("other scope proceeds"); return }
        other.end()
        let acknowledgement = Acknowledgement()
        ticket.taken(Self.receipt("k", time: 5), acknowledgement: acknowledgement)
        ticket.end()
        guard case .replay(let receipt, let waitFor) = keys.claim(scope: "site-a", key: "k", now: 10) else { Issue.record("taken: replay"); return }
        #expect(receipt == Self.receipt("k", time: 5))
        #expect(waitFor === acknowledgement)
        #expect(keys.count == 1, "the other tenant's key took nothing and was freed")
    }

    @Test("a request that took nothing frees its key for the retry")
    func freedWhenNothingTaken() {
        let keys = IdempotencyKeys(window: 1_000)
        guard case .proceed(let ticket) = keys.claim(scope: "", key: "k", now: 0) else { Issue.record("proceeds"); return }
        ticket.end()
        guard case .proceed = keys.claim(scope: "", key: "k", now: 1) else { Issue.record("free again"); return }
    }

    @Test("keys expire after the window, by the time their records were taken")
    func expiry() {
        let keys = IdempotencyKeys(window: 1_000)
        for (i, key) in ["a", "b", "c"].enumerated() {
            guard case .proceed(let t) = keys.claim(scope: "s", key: key, now: Int64(i) * 400) else { Issue.record("proceeds"); return }
            t.taken(Self.receipt(key, scope: "s", time: Int64(i) * 400), acknowledgement: nil)
            t.end()
        }
        guard case .replay = keys.claim(scope: "s", key: "a", now: 999) else { Issue.record("a within its window"); return }
        guard case .proceed(let fresh) = keys.claim(scope: "s", key: "a", now: 1_000) else { Issue.record("a expired at 1000"); return }
        fresh.end()
        guard case .replay = keys.claim(scope: "s", key: "b", now: 1_000) else { Issue.record("b still kept"); return }
        #expect(keys.count == 2)
    }

    @Test("restored receipts replay; those older than the window are left out")
    func restore() {
        let keys = IdempotencyKeys(window: 1_000)
        keys.restore([Self.receipt("new", time: 9_500), Self.receipt("old", time: 8_000)], now: 10_000)
        guard case .replay(let r, nil) = keys.claim(scope: "site-a", key: "new", now: 10_000) else { Issue.record("restored"); return }
        #expect(r.key == "new")
        guard case .proceed = keys.claim(scope: "site-a", key: "old", now: 10_000) else { Issue.record("expired"); return }
    }

    @Test("keys are 1 to 200 printable ASCII characters")
    func validation() {
        #expect(IdempotencyKeys.problem("order-42:retry") == nil)
        #expect(IdempotencyKeys.problem(String(repeating: "x", count: 200)) == nil)
        #expect(IdempotencyKeys.problem("") != nil)
        #expect(IdempotencyKeys.problem(String(repeating: "x", count: 201))?.contains("limit is 200") == true)
        #expect(IdempotencyKeys.problem("tab\there")?.contains("0x9") == true)
        #expect(IdempotencyKeys.problem("café") != nil)
    }
}
