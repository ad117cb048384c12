/// What went wrong in the store: damaged data (with where), an I/O failure (with the system's
/// reason), or a data directory another process holds.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable { case corrupt, io, locked, usage, changed }
    private let code: Code
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func corrupt(_ message: String) -> Self { .init(.corrupt, message) }
    static func io(_ message: String) -> Self { .init(.io, message) }
    static func locked(_ message: String) -> Self { .init(.locked, message) }
    static func usage(_ message: String) -> Self { .init(.usage, message) }
    /// A file a read needed was replaced while it read: nothing is wrong, the read can run again.
    static func changed(_ message: String) -> Self { .init(.changed, message) }

    public var isCorruption: Bool { code == .corrupt }
    public var isLocked: Bool { code == .locked }
    /// A system call failed (a full disk, an I/O error): the data is fine, the device is not.
    public var isIO: Bool { code == .io }
}
