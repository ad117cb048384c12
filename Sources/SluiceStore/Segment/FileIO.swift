#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSluiceWriteback

/// Thin, checked wrappers over the system calls the store uses; every failure names the file.
///
/// Every call that writes asks `FileFaults` first, so tests can fail any step (FORMAT.md,
/// "Write failures and injected I/O errors").
enum FileIO {
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws(StoreError) -> Int32 {
        if FileFaults.isArmed, flags & (O_WRONLY | O_RDWR | O_CREAT) != 0 { try inject(.open, "open", path) }
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("open", path) }
        if FileFaults.isArmed { FileFaults.synced(fd) }
        return fd
    }

    /// Fails with the injected `errno` when a fault is armed for this call.
    private static func inject(_ operation: FileFault.Operation, _ verb: String, _ paths: String...) throws(StoreError) {
        guard let code = FileFaults.failure(operation, paths) else { return }
        errno = code
        throw failure(verb, paths[0])
    }

    /// Like `open`, but `nil` when there is no such file.
    static func openIfPresent(_ path: String, _ flags: Int32) throws(StoreError) -> Int32? {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0)
        if fd < 0, errno == ENOENT { return nil }
        guard fd >= 0 else { throw failure("open", path) }
        return fd
    }

    /// Which file a descriptor is open on: the same path names another file once it has
    /// been replaced by a rename.
    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    static func identity(_ fd: Int32, _ path: String) throws(StoreError) -> Identity {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("stat", path) }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    static func failure(_ operation: String, _ path: String) -> StoreError {
        .io("cannot \(operation) \(path): \(String(cString: strerror(errno)))")
    }

    static func size(_ fd: Int32, _ path: String) throws(StoreError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("stat", path) }
        return Int(st.st_size)
    }

    static func size(path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    static func pread(_ fd: Int32, _ path: String, offset: Int, count: Int) throws(StoreError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if n == 0 { break }
            done += n
        }
        if done < count { buffer.removeSubrange(done...) }
        return buffer
    }

    static func writeAll(_ fd: Int32, _ path: String, _ bytes: [UInt8]) throws(StoreError) {
        if FileFaults.isArmed {
            let offset = Int(lseek(fd, 0, SEEK_CUR))
            try injectWrite(bytes, path) { part throws(StoreError) in try writeUnchecked(fd, path, part, at: offset) }
            FileFaults.wrote(fd, at: offset)
        }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            done += n
        }
    }

    /// Writes all of `bytes` at `offset` (no shared file position).
    static func writeAll(_ fd: Int32, _ path: String, _ bytes: [UInt8], at offset: Int) throws(StoreError) {
        if FileFaults.isArmed {
            try injectWrite(bytes, path) { part throws(StoreError) in try writeUnchecked(fd, path, part, at: offset) }
            FileFaults.wrote(fd, at: offset)
        }
        try writeUnchecked(fd, path, bytes, at: offset)
    }

    /// A write or short write the faults say fails: a short one writes half the bytes first.
    private static func injectWrite(_ bytes: [UInt8], _ path: String, writing: ([UInt8]) throws(StoreError) -> Void) throws(StoreError) {
        try inject(.write, "write", path)
        guard let code = FileFaults.failure(.shortWrite, [path]) else { return }
        try writing(Array(bytes.prefix(bytes.count / 2)))
        errno = code
        throw failure("write", path)
    }

    private static func writeUnchecked(_ fd: Int32, _ path: String, _ bytes: [UInt8], at offset: Int) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            done += n
        }
    }

    /// Starts the disk writing `count` bytes from `offset` and returns at once, so that the fsync
    /// that makes them durable later has less left to do. Only a hint: a failure changes
    /// nothing, and nothing is durable until that fsync.
    static func startWriteback(_ fd: Int32, from offset: Int, count: Int) {
        _ = sluice_start_writeback(fd, Int64(offset), Int64(count))
    }

    static func fsync(_ fd: Int32, _ path: String) throws(StoreError) {
        if FileFaults.isArmed {
            if let code = FileFaults.failure(.fsync, [path]) {
                FileFaults.dropUnsynced(fd)
                errno = code
                throw failure("fsync", path)
            }
            FileFaults.synced(fd)
        }
        guard Glibc.fsync(fd) == 0 else { throw failure("fsync", path) }
    }

    /// Makes a rename or a new file in `directory` durable.
    static func syncDirectory(_ directory: String) throws(StoreError) {
        if FileFaults.isArmed { try inject(.directorySync, "fsync", directory) }
        let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", directory) }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw failure("fsync", directory) }
    }

    static func readFile(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try pread(fd, path, offset: 0, count: try size(fd, path))
    }

    /// Replaces `path` with `chunks` atomically: written to `temporary` (default `path.tmp`),
    /// fsynced, renamed into place, and the directory fsynced. A failure leaves `path` as it was.
    static func writeAtomically(_ path: String, _ chunks: [[UInt8]], temporary: String? = nil) throws(StoreError) {
        let temporary = temporary ?? path + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            for chunk in chunks { try writeAll(fd, temporary, chunk) }
            try fsync(fd, temporary)
        } catch {
            close(fd)
            try? remove(temporary)
            throw error
        }
        close(fd)
        do {
            try rename(temporary, path)
        } catch {
            try? remove(temporary)
            throw error
        }
        try syncDirectory(String(path[..<path.lastIndex(of: "/")!]))
    }

    /// Creates `path` and any missing parents; each directory it creates is made durable in
    /// its parent (an fsync of the parent), so files synced inside it survive a power cut.
    static func makeDirectory(_ path: String) throws(StoreError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = partial.isEmpty ? "/" : partial
            partial += "/" + component
            if mkdir(partial, 0o755) == 0 {
                try syncDirectory(parent)
            } else if errno != EEXIST {
                throw failure("create directory", partial)
            }
        }
    }

    static func list(_ directory: String) throws(StoreError) -> [String] {
        guard let dir = opendir(directory) else { throw failure("list", directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        if FileFaults.isArmed { try inject(.rename, "rename", from, to) }
        guard Glibc.rename(from, to) == 0 else { throw failure("rename", from) }
    }

    static func remove(_ path: String) throws(StoreError) {
        if FileFaults.isArmed { try inject(.unlink, "delete", path) }
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("delete", path) }
    }

    static func truncate(_ path: String, to length: Int) throws(StoreError) {
        let fd = try open(path, O_WRONLY)
        defer { close(fd) }
        try truncate(fd, path, to: length)
    }

    /// Cuts the file open on `fd` to `length` and makes the cut durable.
    static func truncate(_ fd: Int32, _ path: String, to length: Int) throws(StoreError) {
        if FileFaults.isArmed { try inject(.truncate, "truncate", path) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw failure("truncate", path) }
        try fsync(fd, path)
    }
}
