import SluiceModel
import Synchronization

/// The previous cumulative point of every stream, for turning cumulative points into deltas
/// (`OTLPCumulative`). One per server, shared by all requests: a stream's points may arrive in
/// different requests, and the lock makes each request see its predecessor's point.
///
/// Bounded: past `maximumStreams` the least recently used streams are forgotten (their next
/// point is then a first point again, counted whole only if it started after the decoder).
public final class OTLPCumulativeState: Sendable {
    /// Enough for the streams of a few hundred services; each costs its key and one point.
    public static let defaultMaximumStreams = 20_000

    /// A stream's identity (OTLP's data model): resource, scope, metric name and point
    /// attributes, with the tenant they were filed under.
    struct StreamKey: Hashable, Sendable {
        var tenant: String?
        var resource: Labels
        var scope: String
        var name: String
        var attributes: Labels
    }

    /// What a request changed, so that a request the edge then refuses (and the sender will
    /// retry) can be undone.
    public struct Changes: Sendable {
        var list: [(key: StreamKey, previous: Entry?, current: OTLPCumulative.Point)] = []
        public var isEmpty: Bool { list.isEmpty }
    }

    struct Entry: Sendable {
        var point: OTLPCumulative.Point
        var lastUsed: UInt64
    }

    private struct Storage {
        var streams: [StreamKey: Entry] = [:]
        var clock: UInt64 = 0
    }

    /// When the decoder started, in Unix nanoseconds: first points that started earlier are
    /// not counted.
    public let start: UInt64
    public let maximumStreams: Int
    private let storage = Mutex(Storage())

    public init(start: Timestamp, maximumStreams: Int = defaultMaximumStreams) {
        self.start = UInt64(clamping: start.microseconds) &* 1000
        self.maximumStreams = max(1, maximumStreams)
    }

    /// Streams remembered.
    public var count: Int { storage.withLock { $0.streams.count } }

    /// Decides what `point` counts for against the stream's previous point, and remembers it
    /// as the stream's latest unless it is stale.
    func advance(_ key: StreamKey, to point: OTLPCumulative.Point, changes: inout Changes) -> OTLPCumulative.Outcome {
        let (outcome, change) = storage.withLock { storage -> (OTLPCumulative.Outcome, (StreamKey, Entry?, OTLPCumulative.Point)?) in
            storage.clock += 1
            let previous = storage.streams[key]
            let outcome = OTLPCumulative.outcome(of: point, after: previous?.point, decoderStart: start)
            if case .stale = outcome {
                storage.streams[key]?.lastUsed = storage.clock
                return (outcome, nil)
            }
            storage.streams[key] = Entry(point: point, lastUsed: storage.clock)
            if previous == nil, storage.streams.count > maximumStreams { Self.evict(&storage, keeping: maximumStreams) }
            return (outcome, (key, previous, point))
        }
        if let change { changes.list.append(change) }
        return outcome
    }

    /// Undoes a request's changes, stream by stream, unless a later request has moved the
    /// stream on since.
    public func revert(_ changes: Changes) {
        storage.withLock { storage in
            for change in changes.list.reversed() where storage.streams[change.key]?.point == change.current {
                storage.streams[change.key] = change.previous
            }
        }
    }

    /// Forgets the least recently used eighth, so that eviction runs rarely.
    private static func evict(_ storage: inout Storage, keeping limit: Int) {
        let keep = limit - limit / 8
        let byAge = storage.streams.map { ($0.key, $0.value.lastUsed) }.sorted { $0.1 < $1.1 }
        for (key, _) in byAge.prefix(storage.streams.count - keep) { storage.streams[key] = nil }
    }
}
