/// Tenant id rules of design §2: at most 150 characters of `[A-Za-z0-9._:-]`, not `.` or `..`.
///
/// Tenant ids end up in file names and URLs, hence the strict alphabet.
public enum TenantID {
    public static let maximumLength = 150

    /// The reason `bytes` is not a valid tenant id, or `nil` when it is.
    public static func problem(_ bytes: some Collection<UInt8>) -> String? {
        // Every record names its tenant: a valid id of three or more bytes, in one pass.
        if bytes.withContiguousStorageIfAvailable(isPlainlyValid) == true { return nil }
        if bytes.isEmpty { return "tenant_id is empty" }
        if bytes.count > maximumLength { return "tenant_id is longer than \(maximumLength) characters" }
        for b in bytes {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: ":"), UInt8(ascii: "-"):
                continue
            default:
                return "tenant_id may only hold A-Z a-z 0-9 . _ : -"
            }
        }
        if bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) && bytes.count <= 2 {
            return "tenant_id may not be \".\" or \"..\""
        }
        return nil
    }

    /// 3 to `maximumLength` bytes, each of A-Z a-z 0-9 . _ : - (so not "." or ".."). Shorter
    /// ids, and every invalid one, go the long way, which names the problem.
    @inline(__always)
    static func isPlainlyValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 3, bytes.count <= maximumLength else { return false }
        // Bit b of `low` allows byte b (0-63), of `high` byte 64 + b.
        let low: UInt64 = (0x3FF << 48) | (1 << 58) | (1 << 46) | (1 << 45)  // 0-9 : . -
        let high: UInt64 = (0x3FF_FFFF << 1) | (0x3FF_FFFF << 33) | (1 << 31)  // A-Z a-z _
        for b in bytes {
            let allowed = b < 64 ? (low >> UInt64(b)) & 1 : b < 128 ? (high >> UInt64(b - 64)) & 1 : 0
            if allowed == 0 { return false }
        }
        return true
    }

    /// Validates a tenant id given as a `String` (configuration, HTTP tokens).
    public static func problem(_ text: String) -> String? { problem(Array(text.utf8)) }
}
