/// The token records each reporter sends, and the totals Sluice must end with.
///
/// Reporter `r` owns the request ids `load-r-0`, `load-r-1`, …; about `duplicates` of its records
/// repeat an id that another reporter owns (and also sends), so that concurrent reporters race
/// to report the same LLM call. A call's model and token counts are a function of its id, as a
/// real call's are of the call, so a repeat is a duplicate and never a conflict.
struct Workload: Sendable {
    struct Call: Sendable {
        var requestID: String
        var model: String
        var prompt: Int
        var completion: Int
        var cached: Int
    }

    struct Totals: Sendable, Equatable {
        var requests = 0
        var prompt = 0
        var completion = 0
        var cached = 0
    }

    static let models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-70b"]

    /// Per reporter, the calls in the order it reports them.
    let calls: [[Call]]
    /// Per model, each request id counted once.
    let expected: [String: Totals]
    let duplicateRecords: Int

    init(reporters: Int, records: Int, duplicates: Double, seed: UInt64) {
        // Reporter r sends `share[r]` records; `repeats[r]` of them repeat another's ids.
        let share = (0..<reporters).map { records / reporters + ($0 < records % reporters ? 1 : 0) }
        let repeats = share.map { Int((Double($0) * duplicates).rounded()) }
        let owned = zip(share, repeats).map { $0 - $1 }
        var random = SplitMix64(seed: seed)
        var calls: [[Call]] = []
        var expected: [String: Totals] = [:]
        for r in 0..<reporters {
            var own = (0..<owned[r]).map { Self.call(reporter: r, index: $0) }
            for call in own {
                expected[call.model, default: Totals()].add(call)
            }
            // Repeats of the next reporter's ids (every reporter sends all the ids it owns),
            // spread through the sequence.
            let other = (r + 1) % reporters
            if owned[other] > 0 {
                for _ in 0..<repeats[r] {
                    own.append(Self.call(reporter: other, index: Int(random.next() % UInt64(owned[other]))))
                }
            }
            own.shuffle(using: &random)
            calls.append(own)
        }
        self.calls = calls
        self.expected = expected
        self.duplicateRecords = calls.reduce(0) { $0 + $1.count } - owned.reduce(0, +)
    }

    /// The call behind request id `load-{reporter}-{index}`: its numbers follow from the id.
    static func call(reporter: Int, index: Int) -> Call {
        let id = "load-\(reporter)-\(index)"
        var hash = SplitMix64(seed: fnv1a(id))
        let model = models[Int(hash.next() % UInt64(models.count))]
        let prompt = 10 + Int(hash.next() % 4000)
        let completion = 1 + Int(hash.next() % 1000)
        let cached = Int(hash.next() % UInt64(prompt / 2 + 1))
        return Call(requestID: id, model: model, prompt: prompt, completion: completion, cached: cached)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

extension Workload.Totals {
    mutating func add(_ call: Workload.Call) {
        requests += 1
        prompt += call.prompt
        completion += call.completion
        cached += call.cached
    }
}

/// A small seeded generator: the same workload on every run and machine.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
