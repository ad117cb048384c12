import Synchronization
import SluiceModel
import SluicePipeline

/// A sink that keeps what it receives. With a gate, `write` waits until the test opens it: a
/// deliberately slow sink for back-pressure tests.
public final class RecordingSink: Sink {
    private let state = Mutex(State())
    private let gate: Gate?

    struct State {
        var records: [OutputRecord] = []
        var batches = 0
        var finished = false
    }

    public init(gate: Gate? = nil) { self.gate = gate }

    public var records: [OutputRecord] { state.withLock { $0.records } }
    public var batches: Int { state.withLock { $0.batches } }
    public var finished: Bool { state.withLock { $0.finished } }

    /// Everything received, as the NDJSON a file sink would have written.
    public var ndjson: String { records.map(\.ndjson).joined() }

    public func write(_ records: [OutputRecord]) async throws {
        state.withLock { $0.batches += 1 }
        if let gate { await gate.wait() }
        state.withLock { $0.records.append(contentsOf: records) }
    }

    public func finish() async throws {
        state.withLock { $0.finished = true }
    }
}

/// Closed until `open()`: everything that waits on it waits until then.
public final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    public func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    public func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}
