/// The window aggregator's last checkpoint in a data directory: its open windows, kept so a
/// restart resumes them instead of storing a second record for the same series and window.
///
/// The segment writer replaces it only after the windows closed before it are durable, so the
/// file never claims a window is open that the store does not yet hold closed, except for
/// windows closed after it, which a restart finds in the store and skips.
public struct WindowCheckpointFile: Sendable {
    public static let name = "windows/open.checkpoint"
    public let directory: DataDirectory

    public init(directory: DataDirectory) { self.directory = directory }

    /// The checkpoint's bytes, or `nil` when there is none.
    public func load() throws(StoreError) -> [UInt8]? {
        try directory.readFile(Self.name)
    }

    /// Replaces the checkpoint atomically (temporary file, fsync, rename, fsync of the directory).
    public func save(_ bytes: [UInt8]) throws(StoreError) {
        try directory.writeFile(Self.name, bytes)
    }

    /// Removes it: no window is open.
    public func clear() throws(StoreError) {
        try directory.removeFile(Self.name)
    }
}
