import SluiceModel
import SluicePipeline

/// InfluxDB line protocol to records (design §10), what Telegraf's `outputs.influxdb_v2` and
/// the InfluxDB client libraries write.
///
/// Each integer (`2i`), unsigned (`3u`), float or boolean field of a line becomes one `metric`
/// sample named `<measurement>_<field>` (booleans as 1 and 0), with the line's tags as labels
/// (a `tenant_id` tag names the tenant). String fields have no number to aggregate: they are
/// counted and skipped. A line is taken or refused whole, as InfluxDB does; a refused line is
/// reported with its number, the column where it broke and why, and the lines after it are
/// still read.
public enum InfluxLineProtocol {
    /// What a body came to.
    public struct Decoded: Sendable {
        public var batch = DecodedBatch()
        /// String fields of the lines taken, skipped on purpose.
        public var skippedStrings = 0
    }

    /// Decodes a write body: lines separated by `\n` (or `\r\n`); blank lines and comments
    /// (`#` first) are skipped; a line over `context.maximumLineBytes` is refused unread.
    public static func decode(_ body: UnsafeBufferPointer<UInt8>, precision: InfluxPrecision, context: ProtocolContext) -> Decoded {
        var decoded = Decoded()
        var splitter = LineSplitter(maximumLineBytes: context.maximumLineBytes)
        let take = { (line: LineSplitter.Line) in
            switch line {
            case .tooLong(let length, let number):
                decoded.batch.reject(number, DecodeError(.lineTooLong, "line is \(length) bytes, longer than the limit of \(context.maximumLineBytes)"))
            case .line(let bytes, let number):
                decodeLine(bytes, number: number, precision: precision, context: context, into: &decoded)
            }
        }
        splitter.feed(body, take)
        splitter.finish(take)
        return decoded
    }

    static func decodeLine(_ bytes: UnsafeBufferPointer<UInt8>, number: Int, precision: InfluxPrecision, context: ProtocolContext, into decoded: inout Decoded) {
        guard let first = bytes.firstIndex(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }),
              bytes[first] != UInt8(ascii: "#") else { return }
        switch records(bytes, precision: precision, context: context) {
        case .success(let (records, strings)):
            for record in records { decoded.batch.append(record) }
            decoded.skippedStrings += strings
        case .failure(let error):
            decoded.batch.reject(number, error)
        }
    }

    /// One line's samples and its count of string fields, or why the line is refused.
    static func records(_ bytes: UnsafeBufferPointer<UInt8>, precision: InfluxPrecision, context: ProtocolContext)
        -> Result<([Record], Int), DecodeError> {
        let line: InfluxLine
        do {
            line = try InfluxLineParser.parse(bytes)
        } catch {
            return .failure(error.decodeError)
        }
        let tenant: String?
        let labels: Labels
        switch context.tenantAndLabels(line.tags) {
        case .success(let split): (tenant, labels) = split
        case .failure(let error): return .failure(DecodeError(error.reason, "tags: \(error.message)"))
        }
        var time = context.now
        if let raw = line.timestamp {
            guard let t = precision.timestamp(raw) else {
                return .failure(DecodeError(.badTimestamp, "column \(line.timestampColumn): timestamp \(raw) is out of range for precision \(precision)"))
            }
            time = t
        }
        var records: [Record] = []
        records.reserveCapacity(line.fields.count)
        var strings = 0
        for (key, field) in line.fields {
            let value: Double
            switch field {
            case .float(let v): value = v
            case .integer(let v): value = Double(v)
            case .unsigned(let v): value = Double(v)
            case .boolean(let v): value = v ? 1 : 0
            case .string:
                strings += 1
                continue
            }
            if let problem = context.check(value: value, time: time) {
                let message = problem.reason == .badTimestamp ? "column \(line.timestampColumn): \(problem.message)" : "field \"\(key)\": \(problem.message)"
                return .failure(DecodeError(problem.reason, message))
            }
            records.append(.metric(MetricRecord(timestamp: time, tenantID: tenant, labels: labels, name: "\(line.measurement)_\(key)", value: value)))
        }
        return .success((records, strings))
    }
}
