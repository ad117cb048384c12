#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Golden-file comparison. `RECORD_FIXTURES=1` rewrites the golden file and reports a failure,
/// so a recording run can never pass by accident.
public enum Golden {
    /// `nil` when `actual` matches the file; otherwise what a person needs to see.
    public static func mismatch(_ actual: String, goldenPath: String) -> String? {
        if getenv("RECORD_FIXTURES").map({ String(cString: $0) }) == "1" {
            _ = TestFiles.write(goldenPath, actual)
            return "recorded \(goldenPath); rerun without RECORD_FIXTURES=1"
        }
        guard let expected = TestFiles.readString(goldenPath) else {
            return "no golden file \(goldenPath); run once with RECORD_FIXTURES=1 to record it"
        }
        guard expected != actual else { return nil }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(e.count, a.count) {
            let el = i < e.count ? String(e[i]) : "<end of file>"
            let al = i < a.count ? String(a[i]) : "<end of output>"
            if el != al {
                return "\(goldenPath) differs at line \(i + 1):\n  expected: \(el)\n  actual:   \(al)"
            }
        }
        return "\(goldenPath) differs"
    }
}
