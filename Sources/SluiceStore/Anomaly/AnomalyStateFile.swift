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
    static let envelope = StateFileEnvelope(magic: magic, what: "an anomaly detector checkpoint", afresh: "every series warms up again")

    public var path: String { directory.path + "/" + Self.name }

    public init(directory: DataDirectory) { self.directory = directory }

    /// The checkpoint's body; throws when the file is not one, is another version or fails its
    /// checksum (a person then decides: the message says how to start afresh).
    public func load() throws -> [UInt8]? {
        guard let bytes = try directory.readFile(Self.name) else { return nil }
        return try Self.envelope.unwrap(bytes, path: path, readable: Self.version...Self.version).body
    }

    /// Replaces the checkpoint (the segment writer does, once the anomalies before it are stored).
    public func save(_ state: [UInt8]) throws(StoreError) {
        try directory.writeFile(Self.name, Self.envelope.wrap(state, version: Self.version))
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
