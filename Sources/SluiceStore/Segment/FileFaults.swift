import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One failure to inject into the store's system calls: which call, on which files, with
/// which `errno`, and which of the matching calls fail.
package struct FileFault: Sendable, CustomStringConvertible {
    /// A step of writing, as `FileIO` makes it.
    package enum Operation: String, Sendable, CaseIterable {
        /// Opening (or creating) a file to write it; opens to read never fail.
        case open
        /// A write that fails before writing anything.
        case write
        /// A write that writes the first half of its bytes, then fails: a disk filling midway.
        case shortWrite = "short write"
        /// An fsync of a file. The failure also zeroes what was written through that
        /// descriptor since its last good fsync: after a failed writeback the kernel may
        /// drop those pages, and a later fsync reports success.
        case fsync
        /// The fsync of a directory that makes a new name or a rename durable.
        case directorySync = "directory fsync"
        /// A rename; matches when either name does.
        case rename
        case truncate
        case unlink
    }

    /// Which files a fault applies to, matched against the full path.
    package struct Files: Sendable, CustomStringConvertible {
        package let description: String
        let matches: @Sendable (String) -> Bool

        package init(_ description: String, _ matches: @escaping @Sendable (String) -> Bool) {
            self.description = description
            self.matches = matches
        }

        /// Segments being written (`<id>.open`).
        package static let openSegment = Files("open segment") { $0.hasSuffix(".open") && !$0.contains("/tiers/") }
        /// Sealed segments (`<id>.seg`) of the base store.
        package static let sealedSegment = Files("sealed segment") { $0.hasSuffix(".seg") && !$0.contains("/tiers/") }
        /// The compacted copy written when a segment is sealed.
        package static let compaction = Files("compacted copy") { $0.hasSuffix(".compact.tmp") }
        /// The temporary file a retention prune rewrites a segment into.
        package static let retentionRewrite = Files("retention rewrite") { $0.hasSuffix(".seg.tmp") && !$0.contains("/tiers/") }
        /// The base store's `segments/` directory (its fsyncs).
        package static let segmentsDirectory = Files("segments directory") { $0.hasSuffix("/segments") && !$0.contains("/tiers/") }
        /// Anything of a downsampling tier (`tiers/<step>/`).
        package static let tier = Files("tier") { $0.contains("/tiers/") }
        /// The token meter's checkpoint, its temporary file and its directory.
        package static let tokenCheckpoint = Files("token checkpoint") { $0.contains("/tokens/meter.state") || $0.hasSuffix("/tokens") }
        /// The window checkpoint, its temporary file and its directory.
        package static let windowCheckpoint = Files("window checkpoint") { $0.contains("/windows/open.checkpoint") || $0.hasSuffix("/windows") }
    }

    package var operation: Operation
    package var files: Files
    package var errno: Int32
    /// Only paths under this directory match: tests that run side by side see only their own.
    package var directory: String
    /// Matching calls let through before the first failure (`2`: the third call fails).
    package var skip: Int
    /// How many matching calls fail; `nil`: every one until the fault is cleared.
    package var count: Int?
    /// Matching calls wait until the fault is cleared, then go through: a disk that stalls.
    package var holds = false

    package init(_ operation: Operation, _ files: Files, errno: Int32, under directory: String, skip: Int = 0, count: Int? = nil) {
        self.operation = operation
        self.files = files
        self.errno = errno
        self.directory = directory.hasSuffix("/") ? directory : directory + "/"
        self.skip = skip
        self.count = count
    }

    /// Every matching call waits until the fault is cleared, and then is made.
    package static func hold(_ operation: Operation, _ files: Files, under directory: String) -> FileFault {
        var fault = FileFault(operation, files, errno: 0, under: directory)
        fault.holds = true
        return fault
    }

    package var description: String {
        holds ? "\(operation.rawValue) of the \(files) held" : "\(operation.rawValue) of the \(files) with \(String(cString: strerror(errno)))"
    }
}

/// The fault-injection point of the store's file layer, as SQLite's test VFS is of its own:
/// every system call that writes (`FileIO`) asks here first whether to fail instead.
///
/// With nothing armed this costs one atomic load per call; armed faults sit under a lock.
/// Tests arm a fault, drive the real code path, and check what the store made of it.
package enum FileFaults {
    /// A fault that is armed: clears it, and says how often it fired.
    package struct Handle: Sendable {
        let id: Int

        /// Disarms the fault: the calls it failed succeed again.
        package func clear() { FileFaults.clear(id) }

        /// How many calls it has failed (or held) so far.
        package var fired: Int { FileFaults.state.withLock { $0.fired[id] ?? 0 } }
    }

    private struct Armed {
        var id: Int
        var fault: FileFault
        var seen = 0
        /// A holding fault's calls wait on this, one signal each when it is cleared.
        var gate: DispatchSemaphore?
        var waiting = 0
    }

    private struct State {
        var armed: [Armed] = []
        var fired: [Int: Int] = [:]
        var nextID = 0
        /// While faults are armed: per descriptor, the lowest offset written since its last
        /// good fsync (what a failed fsync drops).
        /// Keyed by descriptor and checked against the file's inode: a descriptor number is
        /// reused once closed, and a file closed unsynced must not speak for the next one.
        var unsynced: [Int32: (inode: UInt64, offset: Int)] = [:]
    }

    private static let armedCount = Atomic<Int>(0)
    private static let state = Mutex(State())

    /// Whether any fault is armed (the one check on the path of every call).
    @inline(__always)
    static var isArmed: Bool { armedCount.load(ordering: .acquiring) > 0 }

    /// Arms `fault` until it has failed `count` calls or is cleared.
    package static func arm(_ fault: FileFault) -> Handle {
        let id = state.withLock { s -> Int in
            // Writes and syncs are noted only while something is armed: what was noted before
            // an idle spell may have been synced unseen since, and must not be dropped later.
            if s.armed.isEmpty { s.unsynced.removeAll() }
            s.nextID += 1
            s.armed.append(Armed(id: s.nextID, fault: fault, gate: fault.holds ? DispatchSemaphore(value: 0) : nil))
            s.fired[s.nextID] = 0
            return s.nextID
        }
        armedCount.add(1, ordering: .releasing)
        return Handle(id: id)
    }

    /// Disarms every fault under `directory`.
    package static func clear(under directory: String) {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        let removed = state.withLock { s -> [Armed] in
            let removed = s.armed.filter { $0.fault.directory == prefix }
            s.armed.removeAll { $0.fault.directory == prefix }
            return removed
        }
        release(removed)
        if !removed.isEmpty { armedCount.subtract(removed.count, ordering: .releasing) }
    }

    private static func clear(_ id: Int) {
        let removed = state.withLock { s -> Armed? in
            guard let i = s.armed.firstIndex(where: { $0.id == id }) else { return nil }
            return s.armed.remove(at: i)
        }
        guard let removed else { return }
        release([removed])
        armedCount.subtract(1, ordering: .releasing)
    }

    /// Lets the calls that cleared holding faults held go.
    private static func release(_ faults: [Armed]) {
        for fault in faults { for _ in 0..<fault.waiting { fault.gate?.signal() } }
    }

    /// The `errno` to fail this call with, or `nil` to make it; a holding fault returns `nil`
    /// once it is cleared. Call only when `isArmed`.
    static func failure(_ operation: FileFault.Operation, _ paths: [String]) -> Int32? {
        let outcome = state.withLock { s -> (code: Int32?, gate: DispatchSemaphore?) in
            for i in s.armed.indices where s.armed[i].fault.operation == operation {
                let fault = s.armed[i].fault
                guard paths.contains(where: { $0.hasPrefix(fault.directory) && fault.files.matches($0) }) else { continue }
                s.armed[i].seen += 1
                let n = s.armed[i].seen - fault.skip
                guard n >= 1, fault.count.map({ n <= $0 }) ?? true else { continue }
                s.fired[s.armed[i].id, default: 0] += 1
                if let gate = s.armed[i].gate {
                    s.armed[i].waiting += 1
                    return (nil, gate)
                }
                return (fault.errno, nil)
            }
            return (nil, nil)
        }
        // Waited for outside the lock: clearing the fault needs it.
        outcome.gate?.wait()
        return outcome.code
    }

    /// Notes bytes written through `fd` at `offset`. Call only when `isArmed`.
    static func wrote(_ fd: Int32, at offset: Int) {
        guard let inode = inode(fd) else { return }
        state.withLock { s in
            if let known = s.unsynced[fd], known.inode == inode {
                s.unsynced[fd] = (inode, min(known.offset, offset))
            } else {
                s.unsynced[fd] = (inode, offset)
            }
        }
    }

    private static func inode(_ fd: Int32) -> UInt64? {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// `fd` was opened afresh, or synced: nothing written through it is at risk.
    static func synced(_ fd: Int32) {
        _ = state.withLock { s in s.unsynced.removeValue(forKey: fd) }
    }

    /// What the kernel may do after a failed writeback: the bytes written through `fd` since
    /// its last good fsync are gone (zeroed here, so a later read or checksum sees it).
    static func dropUnsynced(_ fd: Int32) {
        guard let known = state.withLock({ s in s.unsynced.removeValue(forKey: fd) }) else { return }
        let from = known.offset
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_ino) == known.inode, Int(st.st_size) > from else { return }
        let zeros = [UInt8](repeating: 0, count: Int(st.st_size) - from)
        _ = zeros.withUnsafeBytes { Glibc.pwrite(fd, $0.baseAddress!, $0.count, off_t(from)) }
    }
}
