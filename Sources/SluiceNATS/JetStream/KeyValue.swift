import Foundation

/// A JetStream key-value bucket: the stream `KV_<bucket>` on subjects `$KV.<bucket>.<key>`,
/// one message kept per key, as `nats kv` makes it. With a TTL, an entry nobody rewrites
/// expires, which is what makes it a lease table: a claim is `create`, a renewal is `update`
/// on the revision last seen, and a dead holder's claim disappears after the TTL.
public struct KeyValue: Sendable {
    public let jetStream: JetStream
    public let bucket: String

    /// One key's value and the revision (stream sequence) that wrote it.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: [UInt8]
        public var revision: UInt64
        /// Whether this revision deleted the key.
        public var deleted: Bool
    }

    /// Opens the bucket, creating it when it does not exist.
    public static func open(_ jetStream: JetStream, bucket: String, ttl: Duration? = nil) async throws(NATSError) -> KeyValue {
        var stream = JetStream.StreamConfiguration(name: "KV_\(bucket)", subjects: ["$KV.\(bucket).>"])
        stream.maximumMessagesPerSubject = 1
        stream.maximumAge = ttl
        // The duplicate window may not be longer than the age limit.
        if let ttl { stream.duplicateWindow = min(ttl, .seconds(120)) }
        try await jetStream.ensureStream(stream)
        return KeyValue(jetStream: jetStream, bucket: bucket)
    }

    private func subject(_ key: String) -> String { "$KV.\(bucket).\(key)" }

    /// The key's latest entry, or `nil` when it has none (or it expired).
    public func get(_ key: String) async throws(NATSError) -> Entry? {
        struct Response: Decodable {
            struct Message: Decodable {
                var seq: UInt64
                var data: String?
                var hdrs: String?
            }
            var message: Message
        }
        let response: Response
        do {
            response = try await jetStream.call("STREAM.MSG.GET.KV_\(bucket)", ["last_by_subj": subject(key)])
        } catch where error.apiCode == 10_037 {
            return nil  // no message found
        }
        let value = response.message.data.flatMap { Data(base64Encoded: $0) }.map { Array($0) } ?? []
        var deleted = false
        if let encoded = response.message.hdrs, let block = Data(base64Encoded: encoded) {
            let headers = try NATSHeaders.decode(Array(block)[...])
            deleted = headers["KV-Operation"] != nil
        }
        return Entry(key: key, value: value, revision: response.message.seq, deleted: deleted)
    }

    /// Every key with a value now (deleted and expired keys left out), and its entry.
    public func entries() async throws(NATSError) -> [String: Entry] {
        struct Response: Decodable {
            struct State: Decodable { var subjects: [String: UInt64]? }
            var state: State
        }
        let info: Response = try await jetStream.call("STREAM.INFO.KV_\(bucket)", ["subjects_filter": "$KV.\(bucket).>"])
        let prefix = "$KV.\(bucket)."
        let keys = (info.state.subjects ?? [:]).keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        // Read side by side: a round trip each, and a lease table is read every few seconds.
        do {
            return try await withThrowingTaskGroup(of: Entry?.self) { group in
                for key in keys { group.addTask { try await get(key) } }
                var entries: [String: Entry] = [:]
                for try await entry in group {
                    if let entry, !entry.deleted { entries[entry.key] = entry }
                }
                return entries
            }
        } catch let error as NATSError {
            throw error
        } catch {
            throw NATSError(.jetStream, "reading bucket \(bucket): \(error)")
        }
    }

    /// Writes the key only if it has no value (never written, expired or deleted); returns the
    /// new revision. Fails with `apiCode` 10071 when someone else holds it.
    public func create(_ key: String, _ value: [UInt8]) async throws(NATSError) -> UInt64 {
        var revision: UInt64 = 0
        // A deleted key keeps its delete marker, which it may be created on top of; a marker can
        // also age out between the write that met it and the read that looks for it, and then
        // the key is new again. Each turn follows what the last read found; a few turns, so a key
        // that keeps changing under the writes still ends, in the last write's error.
        for _ in 0..<3 {
            do {
                return try await update(key, value, revision: revision)
            } catch where error.apiCode == 10_071 {
                let current = try await get(key)
                guard current?.deleted ?? true else { throw error }
                revision = current?.revision ?? 0
            }
        }
        return try await update(key, value, revision: revision)
    }

    /// Writes the key only if `revision` is still its latest; returns the new revision. Fails
    /// with `apiCode` 10071 when someone wrote it since.
    public func update(_ key: String, _ value: [UInt8], revision: UInt64) async throws(NATSError) -> UInt64 {
        try await jetStream.publish(subject(key), payload: value, expectedLastSubjectSequence: revision).sequence
    }

    /// Writes the key whatever it holds; returns the new revision.
    public func put(_ key: String, _ value: [UInt8]) async throws(NATSError) -> UInt64 {
        try await jetStream.publish(subject(key), payload: value).sequence
    }

    /// Deletes the key if `revision` is still its latest (any revision when `nil`).
    public func delete(_ key: String, revision: UInt64? = nil) async throws(NATSError) {
        _ = try await jetStream.publish(subject(key), payload: [], expectedLastSubjectSequence: revision, headers: NATSHeaders([("KV-Operation", "DEL")]))
    }
}
