import Foundation

/// What a server says about itself in `INFO`.
public struct NATSServerInfo: Sendable, Hashable, Decodable {
    public var serverID: String
    public var version: String
    /// Whether it takes `HPUB` (NATS 2.2 and later).
    public var headers: Bool
    /// The largest payload it accepts, in bytes.
    public var maximumPayload: Int
    /// Whether JetStream is enabled (`nats-server -js`).
    public var jetStream: Bool

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id", version, headers, maximumPayload = "max_payload", jetStream = "jetstream"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serverID = try c.decodeIfPresent(String.self, forKey: .serverID) ?? ""
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? ""
        headers = try c.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        maximumPayload = try c.decodeIfPresent(Int.self, forKey: .maximumPayload) ?? 1 << 20
        jetStream = try c.decodeIfPresent(Bool.self, forKey: .jetStream) ?? false
    }

    static func decode(_ json: [UInt8]) throws(NATSError) -> NATSServerInfo {
        do { return try JSONDecoder().decode(NATSServerInfo.self, from: Data(json)) } catch {
            throw .protocolViolation("INFO is not the JSON a server sends: \(error)")
        }
    }
}
