import SluiceConfig
import SluiceModel

/// What a segment writer does when the disk refuses a write.
public enum WriteFailurePolicy: Sendable, Equatable {
    /// End with the error.
    case fail
    /// Keep the unwritten blocks in memory, stop taking input, and try again at this interval.
    case retry(every: Duration)
}

extension SegmentWriter {
    /// When blocks are flushed and synced, when segments are sealed (`store:` in the config).
    public struct Configuration: Sendable {
        /// A block is written at least this often (wall clock; not in replay).
        public var flushInterval: Duration = .seconds(1)
        /// …or as soon as it holds this many records.
        public var flushRecords = 65_536
        public var fsync: SluiceConfig.Configuration.FsyncPolicy = .interval
        /// A segment is sealed at this size…
        public var segmentBytes = 64 << 20
        /// …or this age, whichever comes first.
        public var segmentAge: Duration = .seconds(3_600)
        /// zstd's level for the blocks flushed while a segment is open: compaction rewrites them
        /// once it is sealed, so they are compressed for speed.
        public var compressionLevel: Int32 = 1
        /// Behind ingest, each sealed segment's blocks are rewritten with each series' records
        /// together, up to this many records a block (0: not at all; segments stay as written)…
        public var compactRecords = 1 << 20
        /// …at this zstd level: that happens once per segment, so it can afford to pack tighter.
        public var compactionLevel: Int32 = 3
        /// What to do when the disk refuses a write: end the stage with the error (batch
        /// runs), or hold the blocks and retry every interval (a server).
        public var onWriteFailure = WriteFailurePolicy.fail

        public init() {}

        /// From the configuration file. A segment is also sealed at an eighth of the size cap,
        /// so that retention, which deletes whole sealed segments, can keep the cap.
        public init(_ c: SluiceConfig.Configuration) {
            flushInterval = .microseconds(c.store.flushInterval.microseconds)
            flushRecords = c.store.flushRecords
            fsync = c.store.fsync
            segmentBytes = Int(min(c.store.segmentBytes, max(64 << 10, c.retention.maxBytes / 8)))
            segmentAge = .microseconds(c.store.segmentAge.microseconds)
            compactionLevel = Int32(c.store.compactionLevel)
        }
    }
}
