import Hummingbird
import SluiceModel

/// Prometheus' HTTP API envelope: `{"status":"success","data":…,"warnings":[…]}` or
/// `{"status":"error","errorType":…,"error":…}`, times as Unix seconds, values as strings.
enum PromResponse {
    /// A success with `data` written by `body`.
    static func success(warnings: [String] = [], _ body: (inout JSONWriter) -> Void) -> Response {
        var json = JSONWriter(capacity: 4_096)
        json.beginObject()
        json.key("status"); json.string("success")
        json.key("data"); body(&json)
        if !warnings.isEmpty {
            json.key("warnings"); json.beginArray(); for w in warnings { json.string(w) }; json.endArray()
        }
        json.endObject()
        json.newline()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// An error in the envelope; Sluice's own codes mapped to Prometheus' error types.
    static func error(_ error: APIError) -> Response {
        var headers = error.headers
        headers[.contentType] = "application/json"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: errorBody(error))))
    }

    /// `{"status":"error","errorType":…,"error":…}`.
    static func errorBody(_ error: APIError) -> [UInt8] {
        let type = switch error.error {
        case "bad_request": "bad_data"
        case "internal_error", "store_error": "internal"
        case "starting", "store_unwritable", "service_unavailable": "unavailable"
        default: error.error
        }
        var json = JSONWriter()
        json.beginObject()
        json.key("status"); json.string("error")
        json.key("errorType"); json.string(type)
        json.key("error"); json.string(error.detail)
        json.endObject()
        json.newline()
        return json.bytes
    }

    /// `{"resultType":…,"result":…}` for a query's value at `time` (instant queries).
    static func write(_ value: PromQL.Value, at time: PromQL.Micros, to json: inout JSONWriter) {
        json.beginObject()
        switch value {
        case .scalar(let n):
            json.key("resultType"); json.string("scalar")
            json.key("result"); writePoint(time, n, to: &json)
        case .vector(let elements):
            json.key("resultType"); json.string("vector")
            json.key("result"); json.beginArray()
            for e in elements.sorted(by: { $0.labels < $1.labels }) {
                json.beginObject()
                json.key("metric"); write(e.labels, to: &json)
                json.key("value"); writePoint(time, e.value, to: &json)
                json.endObject()
            }
            json.endArray()
        case .matrix(let series):
            writeMatrix(series, to: &json)
        }
        json.endObject()
    }

    /// `"resultType":"matrix","result":[…]` (inside an object).
    static func writeMatrix(_ series: [PromQL.Series], to json: inout JSONWriter) {
        json.key("resultType"); json.string("matrix")
        json.key("result"); json.beginArray()
        for s in series.sorted(by: { $0.labels < $1.labels }) {
            json.beginObject()
            json.key("metric"); write(s.labels, to: &json)
            json.key("values"); json.beginArray()
            for sample in s.samples { writePoint(sample.time, sample.value, to: &json) }
            json.endArray()
            json.endObject()
        }
        json.endArray()
    }

    /// `{"__name__":"cpu","host":"a"}`.
    static func write(_ labels: Labels, to json: inout JSONWriter) {
        json.beginObject()
        for label in labels { json.key(label.key); json.string(label.value) }
        json.endObject()
    }

    /// `[1700000000.25,"0.5"]`.
    static func writePoint(_ time: PromQL.Micros, _ value: Double, to json: inout JSONWriter) {
        json.beginArray()
        json.decimal(micros: time)
        json.string(format(value))
        json.endArray()
    }

    /// A value as Prometheus prints it (Go's `FormatFloat(v, 'f', -1, 64)`): the shortest
    /// digits that round-trip, never an exponent; `NaN`, `+Inf`, `-Inf`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        var text = "\(value)"
        var sign = ""
        if text.hasPrefix("-") { sign = "-"; text.removeFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let integer = String(parts[0])
        let digits = integer + (parts.count > 1 ? String(parts[1]) : "")
        let point = integer.count + exponent
        var out: String
        if point <= 0 {
            out = "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out = digits + String(repeating: "0", count: point - digits.count)
        } else {
            out = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
        }
        if out.contains(".") {
            while out.hasSuffix("0") { out.removeLast() }
            if out.hasSuffix(".") { out.removeLast() }
        }
        // Leading zeros of the integer part ("00.5" from "0.05e1").
        while out.count > 1, out.hasPrefix("0"), !out.hasPrefix("0.") { out.removeFirst() }
        return sign + out
    }

    /// `name{a="b"}`, for warnings.
    static func seriesName(_ labels: Labels) -> String {
        let rest = labels.filter { $0.key != "__name__" }.map { "\($0.key)=\"\($0.value)\"" }
        return (labels["__name__"] ?? "") + "{" + rest.joined(separator: ",") + "}"
    }
}
