import SluiceModel

/// Where a record goes in the cluster (design §12): partition `stable hash(tenant) mod
/// partitions`, subject `<prefix>.<partition>`. A tenant's records all go to one partition, so
/// a per-tenant query touches one node.
public struct Partitioning: Sendable, Hashable {
    public let partitions: Int
    /// Subjects are `<subjectPrefix>.<partition>`; the stream takes `<subjectPrefix>.*`.
    public let subjectPrefix: String

    public init(partitions: Int, subjectPrefix: String = "sluice.in") {
        precondition(partitions > 0, "at least one partition")
        self.partitions = partitions
        self.subjectPrefix = subjectPrefix
    }

    /// The partition of a tenant; records without one share the partition of the empty name.
    public func partition(tenant: String?) -> Int {
        Int(StableHash.hash(tenant ?? "") % UInt64(partitions))
    }

    public func subject(_ partition: Int) -> String { "\(subjectPrefix).\(partition)" }

    /// The partition a subject names, when it is one of these.
    public func partition(subject: String) -> Int? {
        guard subject.hasPrefix(subjectPrefix + "."), let p = Int(subject.dropFirst(subjectPrefix.count + 1)), (0..<partitions).contains(p) else { return nil }
        return p
    }
}

/// A batch of records as a message payload: NDJSON, one record per line, as `Record.write`
/// writes it, so that any NATS client can read what the stream holds.
public enum ClusterPayload {
    public static func encode(_ records: some Collection<Record>) -> [UInt8] {
        var writer = JSONWriter(capacity: records.count * 128)
        // `write` ends each record with its newline.
        for record in records { record.write(to: &writer) }
        return writer.bytes
    }

    /// The records of a payload. A line that does not decode means the stream holds what no
    /// node wrote: it is reported with its line number, never skipped.
    public static func decode(_ payload: [UInt8], decoder: NDJSONDecoder = NDJSONDecoder()) throws(ClusterError) -> [Record] {
        var intern = InternTable()
        return try decode(payload, decoder: decoder, intern: &intern)
    }

    /// The same, decoding each line where it lies and sharing the strings `intern` has seen
    /// (a partition's reader keeps one table for all its messages).
    public static func decode(_ payload: [UInt8], decoder: NDJSONDecoder = NDJSONDecoder(), intern: inout InternTable) throws(ClusterError) -> [Record] {
        try payload.withUnsafeBufferPointer { bytes throws(ClusterError) -> [Record] in
            var records: [Record] = []
            records.reserveCapacity(bytes.count / 100)
            var line = 0
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != 0x0A { end += 1 }
                if end > start {
                    line += 1
                    do {
                        records.append(try decoder.decodeOrThrow(UnsafeBufferPointer(rebasing: bytes[start..<end]), ingestTime: nil, intern: &intern))
                    } catch {
                        throw ClusterError("line \(line) of a stream message does not decode: \(error)")
                    }
                }
                start = end + 1
            }
            return records
        }
    }
}

/// What went wrong in the cluster layer, with a message that says what to do.
public struct ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
