import SluiceModel
import SluicePipeline

/// The anomaly detector's checkpoint in a data directory (`anomaly/detector.state`): every
/// series' models, written as one file and replaced atomically. Magic `SLUICEAD`, a version
/// byte, the CRC-32C of the body, then the body (`AnomalyDetector.StateMachine.encoded()`).
///
/// The windows it misses (those closed after it, before a stop) are in the store: a restart
/// scores them again from there.
public struct AnomalyStateFile: AnomalyDetectorPersistence {
    let directory: DataDirectory
    public static let name = "anomaly/detector.state"
    static let magic: [UInt8] = Array("SLUICEAD".utf8)
    static let version: UInt8 = 1

    public var path: String { directory.path + "/" + Self.name }

    public init(directory: DataDirectory) { self.directory = directory }

    /// The checkpoint's body; throws when the file is not one, is another version or fails its
    /// checksum (a person then decides: the message says how to start afresh).
    public func load() throws -> [UInt8]? {
        guard let bytes = try directory.readFile(Self.name) else { return nil }
        guard bytes.count >= 13, Array(bytes[0..<8]) == Self.magic else { throw StoreError.corrupt("\(path) is not an anomaly detector checkpoint") }
        guard bytes[8] == Self.version else {
            throw StoreError.usage("\(path) is checkpoint version \(bytes[8]); this Sluice reads version \(Self.version); move it aside to start the detector afresh (every series warms up again)")
        }
        let body = Array(bytes[13...])
        var r = BinaryReader(Array(bytes[9..<13]))
        guard try r.u32() == CRC32C.checksum(body) else {
            throw StoreError.corrupt("\(path) fails its checksum; move it aside to start the detector afresh (every series warms up again)")
        }
        return body
    }

    public func save(_ state: [UInt8]) throws {
        var w = BinaryWriter(capacity: state.count + 13)
        w.raw(Self.magic)
        w.u8(Self.version)
        w.u32(CRC32C.checksum(state))
        w.raw(state)
        try directory.writeFile(Self.name, w.bytes)
    }

    public func setAside() throws -> String { try directory.quarantineFile(Self.name) }

    public func storedWindows(from: Timestamp) throws -> [WindowSummary] {
        var windows: [WindowSummary] = []
        try StoreReader(directory: directory).forEach(StoreQuery(kinds: [.window], from: from)) { stored in
            if case .output(.window(let w)) = stored { windows.append(w) }
        }
        return windows
    }

    public func storedAnomalies(from: Timestamp) throws -> [Anomaly] {
        var anomalies: [Anomaly] = []
        try StoreReader(directory: directory).forEach(StoreQuery(kinds: [.anomaly], from: from)) { stored in
            if case .output(.anomaly(let a)) = stored { anomalies.append(a) }
        }
        return anomalies
    }
}
