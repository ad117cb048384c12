import SluiceModel

/// Bytes to records, the one way every source does it: pure and synchronous.
///
/// A byte stream (stdin, a file, a TCP connection) is fed chunk by chunk and cut into lines,
/// whatever the chunk boundaries. A whole message (an HTTP body, a UDP datagram) is decoded at
/// once: a JSON array (its elements numbered from 1) or NDJSON (one object is one line). Either
/// way the rules are the same: blank lines are skipped, a UTF-8 byte order mark at the start
/// and a `\r` before each newline are not part of any line, a line over the limit is refused
/// without being buffered, and every refusal carries its line (or element) number and reason.
public struct IngestDecoder: Sendable {
    public let decoder: NDJSONDecoder
    private var splitter: LineSplitter
    /// Stop at the first bad line (`--strict`).
    let strict: Bool
    /// What has been decoded since the last `take()`.
    public private(set) var batch = DecodedBatch()
    /// The first bad line, once `strict` has stopped the stream.
    public private(set) var stopped: LineError?
    /// Strings and label sets decoded before, shared by the records that repeat them.
    public var intern: InternTable

    public init(decoder: NDJSONDecoder.Configuration, strict: Bool = false, intern: InternTable = InternTable()) {
        self.intern = intern
        self.decoder = NDJSONDecoder(configuration: decoder)
        splitter = LineSplitter(maximumLineBytes: decoder.maximumLineBytes)
        self.strict = strict
    }

    /// Feeds the next chunk of a stream. `now` is the event time of records without one
    /// (`nil`: a missing timestamp is an error, as in replay).
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, now: Timestamp?, source: String?) {
        guard stopped == nil else { return }
        var splitter = self.splitter
        splitter.feed(chunk) { line in take(line, now: now, source: source) }
        self.splitter = splitter
    }

    /// Decodes a block of lines cut from a stream (`LineSplitter.cut`), as `feed` would have.
    public mutating func decode(_ block: LineBlock, now: Timestamp?, source: String?) {
        guard stopped == nil else { return }
        batch.records.reserveCapacity(batch.records.count + block.entries.count)
        block.forEach { line in take(line, now: now, source: source) }
    }

    /// End of the stream: a last line without a newline still counts.
    public mutating func finish(now: Timestamp?, source: String?) {
        guard stopped == nil else { return }
        var splitter = self.splitter
        splitter.finish { line in take(line, now: now, source: source) }
        self.splitter = splitter
    }

    /// Hands over what has been decoded and starts a new batch.
    public mutating func take() -> DecodedBatch {
        defer { batch = DecodedBatch() }
        return batch
    }

    /// Decodes one whole message: a JSON array when `arrays` allows it and the body opens with
    /// `[`, otherwise NDJSON. Fails only when the body is an array that is not valid JSON.
    public static func decode(
        message bytes: UnsafeBufferPointer<UInt8>, arrays: Bool, decoder configuration: NDJSONDecoder.Configuration,
        now: Timestamp?, source: String?
    ) -> Result<DecodedBatch, DecodeError> {
        var edge = IngestDecoder(decoder: configuration)
        // A byte order mark may open the body; the line splitter skips it for NDJSON.
        let mark = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let body = UnsafeBufferPointer(rebasing: bytes[mark...])
        if arrays, let first = body.firstIndex(where: { !Self.isWhitespace($0) }), body[first] == UInt8(ascii: "[") {
            switch JSONArraySplitter.elements(body) {
            case .success(let ranges):
                for (i, range) in ranges.enumerated() {
                    edge.decodeLine(UnsafeBufferPointer(rebasing: body[range]), number: i + 1, now: now, source: source)
                }
                return .success(edge.batch)
            case .failure(let error):
                return .failure(error)
            }
        }
        edge.feed(bytes, now: now, source: source)
        edge.finish(now: now, source: source)
        return .success(edge.batch)
    }

    private mutating func take(_ line: LineSplitter.Line, now: Timestamp?, source: String?) {
        guard stopped == nil else { return }
        switch line {
        case .tooLong(let length, let number):
            reject(LineError(source: source, line: number, error: DecodeError(
                .lineTooLong, "line is \(length) bytes, longer than the limit of \(decoder.configuration.maximumLineBytes)")))
        case .line(let bytes, let number):
            if Self.isBlank(bytes) { return }
            decodeLine(bytes, number: number, now: now, source: source)
        }
    }

    private mutating func decodeLine(_ bytes: UnsafeBufferPointer<UInt8>, number: Int, now: Timestamp?, source: String?) {
        // Thrown, not wrapped in a `Result`: the record moves into the batch instead of being
        // copied out of the result and the result destroyed (a retain and a release for each of
        // its strings, on every line).
        do throws(DecodeError) {
            let record = try decoder.decodeOrThrow(bytes, ingestTime: now, intern: &intern)
            batch.byType[record.kind.index] += 1
            batch.records.append(record)
        } catch {
            reject(LineError(source: source, line: number, error: error))
        }
    }

    private mutating func reject(_ error: LineError) {
        batch.rejections.append(error)
        if strict { stopped = error }
    }

    static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in bytes where b != 0x20 && b != 0x09 && b != 0x0D { return false }
        return true
    }

    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
}

/// Records decoded from one chunk or message, with what was refused and why.
public struct DecodedBatch: Sendable {
    public var records: [Record] = []
    /// Refused lines (or array elements), in order.
    public var rejections: [LineError] = []
    /// Records by type, indexed as `RecordKind.allCases`.
    var byType = [UInt64](repeating: 0, count: RecordKind.allCases.count)

    public init() {}

    public var isEmpty: Bool { records.isEmpty && rejections.isEmpty }

    /// Takes a record a protocol decoder made.
    public mutating func append(_ record: Record) {
        records.append(record)
        byType[record.kind.index] += 1
    }

    /// Refuses item `number` of a message (a line, a data point, a series) for `error`.
    public mutating func reject(_ number: Int, _ error: DecodeError, source: String? = nil) {
        rejections.append(LineError(source: source, line: number, error: error))
    }

    /// Adds these counts to the run's counters: records by type, errors by reason.
    func count(into summary: inout RunSummary) {
        summary.records += UInt64(records.count)
        for (i, n) in byType.enumerated() where n > 0 { summary.recordsByType[RecordKind.allCases[i], default: 0] += n }
        summary.errors += UInt64(rejections.count)
        for r in rejections { summary.errorsByReason[r.error.reason, default: 0] += 1 }
    }
}

extension RecordKind {
    /// Position in `allCases`, for per-type counter arrays.
    var index: Int {
        switch self {
        case .metric: 0
        case .cache: 1
        case .performance: 2
        case .tokenUsage: 3
        case .visit: 4
        }
    }
}
