import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A data directory: `segments/` with the segment files, `quarantine/` for damaged ones moved
/// aside by `verify --repair`, and `LOCK`, held by the one process that writes.
public struct DataDirectory: Sendable {
    public let path: String

    public var segmentsPath: String { path + "/segments" }
    public var quarantinePath: String { path + "/quarantine" }

    /// Opens (with `create`, creates) a data directory.
    public init(path: String, create: Bool) throws(StoreError) {
        self.path = path
        if create {
            try FileIO.makeDirectory(segmentsPath)
        } else {
            guard access(segmentsPath, F_OK) == 0 else {
                throw .usage("\(path) is not a Sluice data directory (no segments/ inside); write one with `sluice run --data-dir \(path)`")
            }
        }
    }

    /// Segment files, oldest first (leftover temporary files are ignored).
    public func segments() throws(StoreError) -> [SegmentFile] {
        try FileIO.list(segmentsPath).compactMap { SegmentFile(fileName: $0, directory: segmentsPath) }.sorted()
    }

    /// Bytes of every segment file.
    public func totalBytes() throws(StoreError) -> Int {
        try segments().reduce(0) { $0 + (FileIO.size(path: $1.path) ?? 0) }
    }

    /// Takes the writer's lock; fails at once, naming the holder, when another process has it.
    public func lock() throws(StoreError) -> DirectoryLock {
        let lockPath = path + "/LOCK"
        let fd = try FileIO.open(lockPath, O_RDWR | O_CREAT)
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? FileIO.pread(fd, lockPath, offset: 0, count: 32)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            // This process let the directory go, but a child it is starting still holds a copy
            // of the descriptor until it execs (close-on-exec): wait that out, up to a second.
            if String(holder.trimmingWhitespace()) == "\(getpid())", attempts < 200 {
                attempts += 1
                usleep(5_000)
                continue
            }
            close(fd)
            throw .locked("\(path) is in use by another Sluice process (pid \(String(holder.trimmingWhitespace()))); stop it first, or use its HTTP API")
        }
        _ = ftruncate(fd, 0)
        try? FileIO.writeAll(fd, lockPath, Array("\(getpid())".utf8))
        return DirectoryLock(fd: fd)
    }

    /// What recovery did to one segment.
    public struct Recovery: Sendable, CustomStringConvertible {
        public var segment: String
        public var keptBlocks: Int
        public var cutBytes: Int
        public var offset: Int
        public var reason: String

        public var description: String {
            "\(segment): cut \(cutBytes) bytes at offset \(offset) (\(reason)); kept \(keptBlocks) whole blocks"
        }
    }

    /// Makes every unsealed segment whole: a torn tail is cut back to the last whole block, and
    /// the segment is sealed. Only the lock holder may call this. Returns what was cut.
    public func recoverOpenSegments() throws(StoreError) -> [Recovery] {
        var cuts: [Recovery] = []
        for name in try FileIO.list(segmentsPath) where name.hasSuffix(".tmp") {
            try FileIO.remove("\(segmentsPath)/\(name)")
        }
        let sealedIDs = Set(try segments().filter(\.sealed).map(\.id))
        for segment in try segments() where !segment.sealed {
            // A compaction at the seal (as earlier writers made it) wrote the sealed copy and
            // stopped before removing the open one.
            if sealedIDs.contains(segment.id) {
                try FileIO.remove(segment.path)
                continue
            }
            let scan = try segment.scan(verify: true)
            if let damage = scan.damage {
                try FileIO.truncate(segment.path, to: scan.validLength)
                cuts.append(Recovery(segment: segment.name, keptBlocks: scan.blocks.count, cutBytes: scan.fileLength - scan.validLength,
                                     offset: damage.offset, reason: damage.reason))
            }
            if scan.blocks.isEmpty {
                try FileIO.remove(segment.path)
            } else {
                try FileIO.rename(segment.path, SegmentFile(id: segment.id, sealed: true, directory: segmentsPath).path)
            }
        }
        try FileIO.syncDirectory(segmentsPath)
        return cuts
    }

    /// Moves a damaged segment to `quarantine/`, where it stays until a person deletes it.
    public func quarantine(_ segment: SegmentFile) throws(StoreError) -> String {
        try FileIO.makeDirectory(quarantinePath)
        let destination = "\(quarantinePath)/\(segment.name)"
        try FileIO.rename(segment.path, destination)
        try FileIO.syncDirectory(segmentsPath)
        try FileIO.syncDirectory(quarantinePath)
        return destination
    }

    /// Moves `name` (relative to the data directory), a file that cannot be read, to the
    /// quarantine directory; returns where it went.
    public func quarantineFile(_ name: String) throws(StoreError) -> String {
        try FileIO.makeDirectory(quarantinePath)
        let destination = "\(quarantinePath)/\(String(name.map { $0 == "/" ? "-" : $0 }))"
        try FileIO.rename("\(path)/\(name)", destination)
        try FileIO.syncDirectory(quarantinePath)
        return destination
    }

    /// Replaces a sealed segment with one holding `frames`, atomically: write a temporary file,
    /// fsync it, rename it over the old one, fsync the directory. No frames: the segment goes.
    /// `asWritten` keeps the header's flag: a segment not compacted yet still is not.
    func replace(_ segment: SegmentFile, frames: [[UInt8]], asWritten: Bool = false, temporary: String? = nil) throws(StoreError) {
        guard !frames.isEmpty else {
            try FileIO.remove(segment.path)
            try FileIO.syncDirectory(segmentsPath)
            return
        }
        try FileIO.writeAtomically(SegmentFile(id: segment.id, sealed: true, directory: segmentsPath).path,
                                   [SegmentFile.header(asWritten: asWritten)] + frames, temporary: temporary ?? segment.path + ".tmp")
    }

    /// Sealed segments are rewritten (by retention, by compaction) one at a time in a process:
    /// each plans from what it read, and a rewrite between its read and its rename would be lost.
    static let rewrites = Mutex(())

    /// Replaces `name` (relative to the data directory) with `bytes` atomically: a temporary
    /// file, fsync, rename, fsync of the directory.
    public func writeFile(_ name: String, _ bytes: [UInt8]) throws(StoreError) {
        let path = "\(self.path)/\(name)"
        try FileIO.makeDirectory(String(path[..<path.lastIndex(of: "/")!]))
        try FileIO.writeAtomically(path, [bytes])
    }

    /// The contents of `name` (relative to the data directory), or `nil` when there is none.
    public func readFile(_ name: String) throws(StoreError) -> [UInt8]? {
        let path = "\(self.path)/\(name)"
        guard FileIO.size(path: path) != nil else { return nil }
        return try FileIO.readFile(path)
    }

    /// Removes `name` (relative to the data directory) if it is there, durably.
    public func removeFile(_ name: String) throws(StoreError) {
        let path = "\(self.path)/\(name)"
        guard FileIO.size(path: path) != nil else { return }
        try FileIO.remove(path)
        try FileIO.syncDirectory(String(path[..<path.lastIndex(of: "/")!]))
    }

    /// Starts a new segment after every existing one; `asWritten` marks it for compaction.
    func createSegment(asWritten: Bool = false) throws(StoreError) -> SegmentAppender {
        let id = (try segments().last?.id ?? 0) + 1
        return try SegmentAppender(file: SegmentFile(id: id, sealed: false, directory: segmentsPath), asWritten: asWritten)
    }
}

/// The writer's hold on a data directory; released when dropped or when the process ends.
public final class DirectoryLock: Sendable {
    private let fd: Atomic<Int32>
    init(fd: Int32) { self.fd = Atomic(fd) }

    /// Lets the directory go (a stopped server, so a new one may take it); later calls do nothing.
    public func release() {
        let fd = self.fd.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { close(fd) }
    }

    deinit { release() }
}

/// The segment being written: appends frames, syncs, seals.
final class SegmentAppender {
    private(set) var file: SegmentFile
    private let fd: Int32
    private(set) var size: Int
    private(set) var blocks = 0
    private(set) var unsynced = false
    private var closed = false

    /// Creates the file with its header, durably; on failure nothing is left behind.
    init(file: SegmentFile, asWritten: Bool = false) throws(StoreError) {
        self.file = file
        fd = try FileIO.open(file.path, O_WRONLY | O_CREAT | O_EXCL)
        do {
            try FileIO.writeAll(fd, file.path, SegmentFile.header(asWritten: asWritten), at: 0)
            try FileIO.fsync(fd, file.path)
            try FileIO.syncDirectory(file.directory)
        } catch {
            close(fd)
            try? FileIO.remove(file.path)
            throw error
        }
        size = SegmentFile.headerBytes
    }

    /// Appends at the current size, so a short write followed by `truncate` leaves no gap.
    /// The disk starts on the frame at once: a segment's sync (at the latest, its seal) then
    /// waits for the last frames only, not for everything written since the previous one.
    func append(_ frame: [UInt8]) throws(StoreError) {
        unsynced = true
        try FileIO.writeAll(fd, file.path, frame, at: size)
        FileIO.startWriteback(fd, from: size, count: frame.count)
        size += frame.count
        blocks += 1
    }

    func sync() throws(StoreError) {
        guard unsynced else { return }
        try FileIO.fsync(fd, file.path)
        unsynced = false
    }

    /// Cuts the file back to `length` (what is known written) and makes the cut durable.
    func truncate(to length: Int) throws(StoreError) {
        try FileIO.truncate(fd, file.path, to: length)
        size = length
        if length <= SegmentFile.headerBytes { blocks = 0 }
        unsynced = false
    }

    private func closeFile() {
        guard !closed else { return }
        close(fd)
        closed = true
    }

    /// Syncs, closes and renames `.open` to `.seg`, then fsyncs the directory. A segment
    /// marked as written is compacted later, behind ingest (`SegmentCompactor.Behind`).
    ///
    /// A failed seal may be called again: it carries on from the step that failed (the open
    /// file gone means it was renamed or removed; the directory fsync is always made again).
    func seal() throws(StoreError) -> SegmentFile {
        if !closed { try sync() }
        closeFile()
        let sealed = SegmentFile(id: file.id, sealed: true, directory: file.directory)
        if FileIO.size(path: file.path) == nil {
            // An earlier attempt got past the rename (or the removal of an empty segment).
        } else if blocks == 0 {
            try FileIO.remove(file.path)
        } else {
            try FileIO.rename(file.path, sealed.path)
        }
        try FileIO.syncDirectory(file.directory)
        return sealed
    }

    deinit { closeFile() }
}
