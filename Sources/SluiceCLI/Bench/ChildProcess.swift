#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This executable run again as a child: what a benchmark needs to measure a step's memory in
/// a fresh heap, where nothing earlier steps freed (and malloc kept) hides its growth.
enum ChildProcess {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs this executable with `arguments` and waits for it; returns its resource usage.
    static func runSelf(_ arguments: [String]) throws(Failure) -> rusage {
        var argv: [UnsafeMutablePointer<CChar>?] = (["sluice"] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/proc/self/exe", nil, nil, &argv, environ)
        guard spawned == 0 else { throw Failure(description: "cannot start a child: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw Failure(description: "cannot wait for the child: \(String(cString: strerror(errno)))") }
        }
        // Exited normally (the low seven bits are the terminating signal) with status 0.
        guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
            throw Failure(description: "the child `sluice \(arguments.joined(separator: " "))` failed (wait status \(status))")
        }
        return usage
    }
}

/// This process's memory, from `/proc/self/status` (Linux).
enum ProcessMemory {
    /// Resident set size now, in KiB (0 where there is no `/proc`).
    static func residentKB() -> Int { field("VmRSS:") }

    /// The highest resident set size so far, in KiB.
    static func peakResidentKB() -> Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 8_192)
        let n = fread(&bytes, 1, bytes.count, file)
        let status = String(decoding: bytes[0..<n], as: UTF8.self)
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).split { $0 == " " || $0 == "\t" }.first ?? "") ?? 0
        }
        return 0
    }
}
