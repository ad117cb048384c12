import SluicePipeline

/// OTLP's two encodings, told apart by `Content-Type`.
public enum OTLPEncoding: Sendable, Equatable {
    /// `application/x-protobuf`
    case protobuf
    /// `application/json`
    case json

    /// The encoding a media type names (parameters such as `; charset=utf-8` ignored), or
    /// `nil` for one OTLP/HTTP does not define.
    public init?(contentType: String) {
        let mediaType = (contentType.split(separator: ";", maxSplits: 1).first ?? "").filter { $0 != " " && $0 != "\t" }.lowercased()
        switch mediaType {
        case "application/x-protobuf", "application/protobuf": self = .protobuf
        case "application/json": self = .json
        default: return nil
        }
    }

    /// The media type of an answer in this encoding.
    public var contentType: String {
        switch self {
        case .protobuf: "application/x-protobuf"
        case .json: "application/json"
        }
    }
}

/// What an OTLP request decoded to: the records and refusals for the ingest edge, and what
/// was skipped on purpose.
public struct OTLPDecoded: Sendable {
    public var batch = DecodedBatch()
    /// Data points or spans skipped on purpose: spans that are neither HTTP server spans nor
    /// GenAI calls, points flagged as having no value, histogram points of no samples, the first
    /// cumulative point of a stream that started before Sluice, and resent cumulative points.
    public var skipped = 0
    /// Data points or spans in the request.
    public var items = 0
    /// The cumulative streams this request moved on, to undo if the edge refuses it whole.
    public var changes = OTLPCumulativeState.Changes()

    public init() {}
}
