import SluiceModel

/// `ExportMetricsServiceResponse` / `ExportTraceServiceResponse`, in the request's encoding.
/// Both are `{ partial_success = 1 { int64 rejected_data_points | rejected_spans = 1;
/// string error_message = 2; } }`; a fully accepted request gets the empty message.
public enum OTLPResponse {
    public enum Signal: Sendable {
        case metrics
        case traces

        /// The JSON name of `rejected_*`.
        var rejectedKey: String {
            switch self {
            case .metrics: "rejectedDataPoints"
            case .traces: "rejectedSpans"
            }
        }
    }

    /// The response body: `partial_success` only when something was rejected.
    public static func encode(_ signal: Signal, rejected: Int, message: String?, encoding: OTLPEncoding) -> [UInt8] {
        switch encoding {
        case .protobuf:
            guard rejected > 0 || message != nil else { return [] }
            var inner: [UInt8] = []
            if rejected > 0 {
                inner.append(0x08)
                varint(UInt64(rejected), into: &inner)
            }
            if let message {
                let utf8 = Array(message.utf8)
                inner.append(0x12)
                varint(UInt64(utf8.count), into: &inner)
                inner += utf8
            }
            var out: [UInt8] = [0x0A]
            varint(UInt64(inner.count), into: &out)
            return out + inner
        case .json:
            var json = JSONWriter()
            json.beginObject()
            if rejected > 0 || message != nil {
                json.key("partialSuccess")
                json.beginObject()
                if rejected > 0 {
                    // int64 is a decimal string in protobuf's JSON mapping.
                    json.key(signal.rejectedKey); json.string(String(rejected))
                }
                if let message { json.key("errorMessage"); json.string(message) }
                json.endObject()
            }
            json.endObject()
            return json.bytes
        }
    }

    private static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
