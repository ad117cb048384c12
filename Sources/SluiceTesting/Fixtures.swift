#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the repository's `Fixtures/` folder (outside every target) from a test file's path.
public enum FixtureLocator {
    /// The repository root: the nearest parent of `file` holding `Package.swift`.
    public static func repositoryRoot(from file: String = #filePath) -> String {
        var dir = file
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            if access(dir + "/Package.swift", F_OK) == 0 { return dir }
        }
        fatalError("no Package.swift above \(file)")
    }

    public static func fixtures(from file: String = #filePath) -> String {
        repositoryRoot(from: file) + "/Fixtures"
    }

    /// Subfolders of `Fixtures/` that hold an `input.ndjson`.
    public static func cases(from file: String = #filePath) -> [String] {
        let root = fixtures(from: file)
        guard let dir = opendir(root) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix("."), access("\(root)/\(name)/input.ndjson", F_OK) == 0 { names.append(name) }
        }
        return names.sorted()
    }
}

/// Small file helpers for tests.
public enum TestFiles {
    public static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    public static func readString(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    @discardableResult
    public static func write(_ path: String, _ bytes: [UInt8]) -> Bool {
        guard let file = fopen(path, "wb") else { return false }
        defer { fclose(file) }
        return fwrite(bytes, 1, bytes.count, file) == bytes.count
    }

    public static func write(_ path: String, _ text: String) -> Bool { write(path, Array(text.utf8)) }

    /// A fresh, empty temporary directory.
    public static func temporaryDirectory(_ prefix: String = "sluice-test") -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
}
