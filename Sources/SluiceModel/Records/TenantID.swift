/// Tenant id rules of design §2: at most 150 characters of `[A-Za-z0-9._:-]`, not `.` or `..`.
///
/// Tenant ids end up in file names and URLs, hence the strict alphabet.
public enum TenantID {
    public static let maximumLength = 150

    /// The reason `bytes` is not a valid tenant id, or `nil` when it is.
    public static func problem(_ bytes: some Collection<UInt8>) -> String? {
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

    /// Validates a tenant id given as a `String` (configuration, HTTP tokens).
    public static func problem(_ text: String) -> String? { problem(Array(text.utf8)) }
}
