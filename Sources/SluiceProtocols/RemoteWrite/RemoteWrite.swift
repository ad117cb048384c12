import SluiceModel
import SluicePipeline

/// Prometheus remote write 1.0 (design §10): a `prometheus.WriteRequest`, already
/// snappy-decompressed, into `metric` records, one per sample.
///
/// ```
/// WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
/// TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }   // 3, 4: exemplars, histograms
/// Label        { string name = 1; string value = 2; }
/// Sample       { double value = 1; int64 timestamp = 2; }                      // milliseconds
/// ```
///
/// `__name__` is the metric name and the other labels are its labels; a `tenant_id` label names
/// the tenant as for every protocol. Metadata, exemplars and native histograms (fields later
/// versions added to the same messages) and any field Sluice does not know are skipped, so a
/// newer sender still gets its float samples in. A label with an empty value is no label, as in
/// Prometheus.
public enum RemoteWrite {
    /// What one request gave.
    public struct Decoded: Sendable {
        /// The samples as records, and the series or samples refused with their position.
        public var batch = DecodedBatch()
        /// NaN samples, skipped on purpose and counted: Prometheus writes a staleness marker
        /// (`value.StaleNaN`) when a series disappears, and NaN where there is no value (the
        /// quantiles of an empty summary). Neither is a sample a window could take.
        public var notANumber = 0
    }

    /// The NaN Prometheus writes as a staleness marker (`value.StaleNaN`).
    public static let staleMarkerBits: UInt64 = 0x7FF0_0000_0000_0002

    /// The metric name label.
    static let nameLabel = "__name__"

    /// Decodes a whole request. A series or sample that breaks Sluice's rules is refused by
    /// series number with its position and reason, and the rest is kept; a request whose
    /// protobuf cannot be read throws, and nothing in it is taken.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, context: ProtocolContext) throws(ProtocolError) -> Decoded {
        var decoded = Decoded()
        var reader = ProtobufReader(bytes)
        var number = 0
        while let field = try reader.next() {
            // 3 is metadata (type, help and unit of a metric family): nothing Sluice keeps.
            guard field.number == 1 else { continue }
            try field.expect(.lengthDelimited, "timeseries")
            number += 1
            let series = try TimeSeries(field.message)
            series.emit(number: number, context: context, into: &decoded)
        }
        return decoded
    }

    /// One `TimeSeries` as it was sent.
    struct TimeSeries {
        var labels: [Labels.Label] = []
        var samples: [(bits: UInt64, milliseconds: Int64)] = []

        init(_ message: ProtobufReader) throws(ProtocolError) {
            var reader = message
            while let field = try reader.next() {
                switch field.number {
                case 1:
                    try field.expect(.lengthDelimited, "labels")
                    let label = try Self.label(field.message)
                    if !label.value.isEmpty { labels.append(label) }
                case 2:
                    try field.expect(.lengthDelimited, "samples")
                    samples.append(try Self.sample(field.message))
                default:
                    // 3 exemplars and 4 native histograms (later versions): skipped.
                    continue
                }
            }
        }

        static func label(_ message: ProtobufReader) throws(ProtocolError) -> Labels.Label {
            var reader = message
            var label = Labels.Label(key: "", value: "")
            while let field = try reader.next() {
                switch field.number {
                case 1:
                    try field.expect(.lengthDelimited, "label name")
                    label.key = field.string
                case 2:
                    try field.expect(.lengthDelimited, "label value")
                    label.value = field.string
                default:
                    continue
                }
            }
            return label
        }

        static func sample(_ message: ProtobufReader) throws(ProtocolError) -> (bits: UInt64, milliseconds: Int64) {
            var reader = message
            var sample: (bits: UInt64, milliseconds: Int64) = (0, 0)
            while let field = try reader.next() {
                switch field.number {
                case 1:
                    try field.expect(.fixed64, "sample value")
                    sample.bits = field.bits
                case 2:
                    try field.expect(.varint, "sample timestamp")
                    sample.milliseconds = field.int64
                default:
                    continue
                }
            }
            return sample
        }

        /// The series' samples as records, or its refusal. A series without float samples (one
        /// that carries only native histograms) gives nothing and is never refused.
        func emit(number: Int, context: ProtocolContext, into decoded: inout Decoded) {
            guard !samples.isEmpty else { return }
            // Built only for a refusal: most series have none.
            var position: String { "series \(number) (\(description))" }
            guard let name = labels.first(where: { $0.key == RemoteWrite.nameLabel })?.value else {
                let what = samples.count == 1 ? "sample has" : "\(samples.count) samples have"
                decoded.batch.reject(number, DecodeError(.missingField, "\(position): no __name__ label, so its \(what) no metric name"))
                return
            }
            if let duplicate = duplicateName {
                decoded.batch.reject(number, DecodeError(.invalidSyntax, "\(position): label \(duplicate) appears twice"))
                return
            }
            let split: (tenant: String?, labels: Labels)
            switch context.tenantAndLabels(labels.filter { $0.key != RemoteWrite.nameLabel }) {
            case .success(let result): split = result
            case .failure(let error):
                decoded.batch.reject(number, DecodeError(error.reason, "\(position): \(error.message)"))
                return
            }
            for (i, sample) in samples.enumerated() {
                let value = Double(bitPattern: sample.bits)
                if value.isNaN {
                    decoded.notANumber += 1
                    continue
                }
                let (microseconds, overflow) = sample.milliseconds.multipliedReportingOverflow(by: 1000)
                let time = Timestamp(microseconds: overflow ? .max : microseconds)
                if let error = context.check(value: value, time: time) {
                    let detail = overflow ? "timestamp \(sample.milliseconds) ms is outside years 0000 to 9999" : error.message
                    decoded.batch.reject(number, DecodeError(error.reason, "\(position) sample \(i + 1): \(detail)"))
                    continue
                }
                decoded.batch.append(.metric(MetricRecord(timestamp: time, tenantID: split.tenant, labels: split.labels, name: name, value: value)))
            }
        }

        /// A label name given twice, which Prometheus refuses too: which value would be meant?
        var duplicateName: String? {
            // Prometheus sends labels sorted by name: then a strictly rising order proves it.
            if zip(labels, labels.dropFirst()).allSatisfy({ $0.key < $1.key }) { return nil }
            var seen = Set<String>()
            for label in labels where !seen.insert(label.key).inserted { return label.key }
            return nil
        }

        /// `name{label="value",…}` as Prometheus prints a series, for error messages.
        var description: String {
            let name = labels.first { $0.key == RemoteWrite.nameLabel }?.value ?? ""
            let rest = labels.filter { $0.key != RemoteWrite.nameLabel }.map { "\($0.key)=\"\($0.value)\"" }
            return rest.isEmpty && !name.isEmpty ? name : "\(name){\(rest.joined(separator: ","))}"
        }
    }
}
