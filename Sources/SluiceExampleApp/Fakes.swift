import Synchronization

/// A least-recently-used cache of item values, with their size in bytes.
final class ItemCache: Sendable {
    private struct State {
        var values: [String: (value: String, stamp: UInt64)] = [:]
        var clock: UInt64 = 0
        var bytes = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    var bytes: Int { state.withLock { $0.bytes } }

    func get(_ key: String) -> String? {
        state.withLock { s in
            guard let entry = s.values[key] else { return nil }
            s.clock += 1
            s.values[key] = (entry.value, s.clock)
            return entry.value
        }
    }

    func put(_ key: String, _ value: String) {
        state.withLock { s in
            s.clock += 1
            if let old = s.values.updateValue((value, s.clock), forKey: key) {
                s.bytes -= key.utf8.count + old.value.utf8.count
            }
            s.bytes += key.utf8.count + value.utf8.count
            if s.values.count > capacity, let oldest = s.values.min(by: { $0.value.stamp < $1.value.stamp }) {
                s.values[oldest.key] = nil
                s.bytes -= oldest.key.utf8.count + oldest.value.value.utf8.count
            }
        }
    }
}

/// A query layer whose latency stands in for a database: deterministic in its input.
enum FakeStore {
    /// An item miss: a 1-3 ms query.
    static func load(_ id: String) async throws -> String {
        try await Task.sleep(for: .milliseconds(1 + Int(stableHash(id) % 3)))
        return "item-\(id)-" + String(stableHash(id) % 100_000)
    }

    /// A search: a 2-5 ms query, returning a hit count.
    static func search(_ query: String) async -> Int {
        try? await Task.sleep(for: .milliseconds(2 + Int(stableHash(query) % 4)))
        return Int(stableHash("hits" + query) % 50)
    }

    /// FNV-1a: the same on every run and machine.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// A simulated LLM: token counts are deterministic functions of the prompt.
enum FakeLLM {
    struct Usage {
        var prompt: Int
        var completion: Int
        var text: String
    }

    static func complete(model: String, prompt: String) -> Usage {
        // About four bytes of text per token, as real tokenizers average on English.
        let promptTokens = Swift.max(1, (prompt.utf8.count + 3) / 4)
        let completionTokens = 8 + Int(FakeStore.stableHash(model + "|" + prompt) % 120)
        return Usage(prompt: promptTokens, completion: completionTokens, text: "(\(completionTokens) tokens from \(model))")
    }
}
