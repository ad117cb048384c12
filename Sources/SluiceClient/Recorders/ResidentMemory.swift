import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension String {
    fileprivate func trimmingSuffix() -> Substring { self[...].prefix { $0 != "\n" } }
}

/// The process's resident set size, read from `/proc/self/statm` when refreshed.
final class ResidentMemory: Sendable {
    private let bytes = Atomic<Int>(0)

    init() { refresh() }

    var megabytes: Double? {
        let value = bytes.load(ordering: .relaxed)
        return value > 0 ? Double(value) / 1_048_576 : nil
    }

    func refresh() {
        if let value = Self.read() { bytes.store(value, ordering: .relaxed) }
    }

    static func read() -> Int? {
        #if os(Linux)
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var size = 0, resident = 0
        guard fscanf_statm(file, &size, &resident) else { return nil }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return nil
        #endif
    }

    #if os(Linux)
    private static func fscanf_statm(_ file: UnsafeMutablePointer<FILE>, _ size: inout Int, _ resident: inout Int) -> Bool {
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, Int32(line.count), file) != nil else { return false }
        let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingSuffix().split(separator: " ")
        guard fields.count >= 2, let s = Int(fields[0]), let r = Int(fields[1]) else { return false }
        size = s
        resident = r
        return true
    }
    #endif
}
