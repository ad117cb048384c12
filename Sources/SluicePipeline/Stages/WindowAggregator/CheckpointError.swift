import SluiceModel

/// Why a window checkpoint cannot be read or resumed: bytes that are not a checkpoint, a
/// version this build does not read, damage (cut short, failed checksum, impossible contents),
/// or window lengths that differ from the configuration's.
public struct CheckpointError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case notACheckpoint, unsupportedVersion, truncated, checksumMismatch, malformed, windowsDiffer
    }

    private let code: Code
    /// What is wrong, and what to do about it.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The bytes are damaged or are not a checkpoint at all: resuming from them is impossible.
    public var isCorrupt: Bool { [.notACheckpoint, .truncated, .checksumMismatch, .malformed].contains(code) }
    /// Written by another version of Sluice.
    public var isUnsupportedVersion: Bool { code == .unsupportedVersion }
    /// Taken with other window lengths: flush it with a machine built from its own
    /// configuration (`WindowCheckpoint.configuration`) instead of resuming.
    public var isWindowMismatch: Bool { code == .windowsDiffer }

    static func notACheckpoint(_ magic: some Collection<UInt8>) -> Self {
        let hex = magic.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
        return .init(.notACheckpoint, "not a window checkpoint: it starts with 0x\(hex) instead of \"\(String(decoding: WindowCheckpoint.magic, as: UTF8.self))\"")
    }

    static func unsupportedVersion(_ version: UInt8) -> Self {
        .init(.unsupportedVersion, "window checkpoint version \(version) is not readable by this Sluice, which reads versions \(WindowCheckpoint.versions.lowerBound) to \(WindowCheckpoint.versions.upperBound); resume with the Sluice that wrote it, or move the checkpoint aside (its open windows are then lost)")
    }

    static func truncated(_ count: Int, of expected: UInt64) -> Self {
        .init(.truncated, "window checkpoint is truncated: \(count) of \(expected) bytes; move it aside (its open windows are then lost)")
    }

    static func checksumMismatch(stored: UInt32, computed: UInt32) -> Self {
        .init(.checksumMismatch, "window checkpoint fails its checksum (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))): the file is damaged; move it aside (its open windows are then lost)")
    }

    static func malformed(_ error: BinaryDecodingError) -> Self {
        .init(.malformed, "window checkpoint is damaged although its checksum matches: \(error.message)")
    }

    static func malformed(_ detail: String) -> Self {
        .init(.malformed, "window checkpoint is damaged although its checksum matches: \(detail)")
    }

    static func windowsDiffer(checkpoint: [WindowDuration], configuration: [WindowDuration]) -> Self {
        func list(_ windows: [WindowDuration]) -> String { windows.map(\.humanDescription).joined(separator: ", ") }
        return .init(.windowsDiffer, "the window checkpoint was taken with windows [\(list(checkpoint))] but the configuration has [\(list(configuration))]; its open windows must be flushed with the windows they were opened with")
    }
}
