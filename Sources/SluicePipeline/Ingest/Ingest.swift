import SluiceModel

/// The ingest stage for byte streams (stdin, files, TCP connections): splits lines, decodes
/// records, reports bad lines, and sends batches into the pipeline. Its `send` is where
/// back-pressure reaches the reader: while the pipeline is full, no more bytes are read.
public struct Ingest: Sendable {
    public struct Configuration: Sendable {
        public var decoder: NDJSONDecoder.Configuration = .init()
        /// Most records per batch.
        public var batchRecords = 4_096
        /// Stop at the first bad line (`--strict`).
        public var strict = false
        public init() {}
    }

    /// How a stream ended.
    public enum Outcome: Sendable, Equatable {
        case completed
        /// `--strict`: the first bad line stopped the stream.
        case stopped(LineError)
    }

    public let configuration: Configuration
    let output: BoundedChannel<RecordBatch>
    let counters: PipelineCounters
    /// Called for every bad line (the CLI prints it to stderr).
    let report: @Sendable (LineError) -> Void
    /// Event time for records without a timestamp; `nil` makes a missing timestamp an error
    /// (`replay`).
    let ingestTime: (@Sendable () -> Timestamp)?

    public init(
        configuration: Configuration, output: BoundedChannel<RecordBatch>, counters: PipelineCounters,
        ingestTime: (@Sendable () -> Timestamp)?, report: @escaping @Sendable (LineError) -> Void
    ) {
        self.configuration = configuration
        self.output = output
        self.counters = counters
        self.ingestTime = ingestTime
        self.report = report
    }

    /// Reads `chunks` to the end (or to the first bad line when strict).
    public func run<Chunks: AsyncSequence>(_ chunks: Chunks, source: String? = nil) async throws -> Outcome
    where Chunks.Element == [UInt8] {
        let decoder = NDJSONDecoder(configuration: configuration.decoder)
        var splitter = LineSplitter(maximumLineBytes: configuration.decoder.maximumLineBytes)
        var batch = Batch(capacity: configuration.batchRecords)
        var stopped: LineError?

        for try await chunk in chunks {
            let now = ingestTime?()
            chunk.withUnsafeBufferPointer { bytes in
                splitter.feed(bytes) { line in
                    guard stopped == nil else { return }
                    stopped = batch.take(line, decoder: decoder, ingestTime: now, source: source, strict: configuration.strict, report: report)
                }
            }
            if stopped != nil { break }
            try await flush(&batch)
        }
        if stopped == nil {
            let now = ingestTime?()
            splitter.finish { line in
                stopped = batch.take(line, decoder: decoder, ingestTime: now, source: source, strict: configuration.strict, report: report)
            }
        }
        try await flush(&batch)
        return stopped.map { .stopped($0) } ?? .completed
    }

    private func flush(_ batch: inout Batch) async throws {
        guard !batch.records.isEmpty || batch.errors > 0 else { return }
        let records = batch.records
        let (byType, errors, byReason) = (batch.byType, batch.errors, batch.errorsByReason)
        batch.reset()
        counters.update { summary in
            summary.records += UInt64(records.count)
            for (i, n) in byType.enumerated() where n > 0 { summary.recordsByType[RecordKind.allCases[i], default: 0] += n }
            summary.errors += errors
            for (reason, n) in byReason { summary.errorsByReason[reason, default: 0] += n }
        }
        if !records.isEmpty { try await output.send(RecordBatch(records: records)) }
    }

    /// Decoded records and counts since the last send.
    struct Batch {
        var records: [Record] = []
        var byType = [UInt64](repeating: 0, count: RecordKind.allCases.count)
        var errors: UInt64 = 0
        var errorsByReason: [DecodeError.Reason: UInt64] = [:]
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            records.reserveCapacity(capacity)
        }

        mutating func reset() {
            records = []
            records.reserveCapacity(capacity)
            for i in byType.indices { byType[i] = 0 }
            errors = 0
            errorsByReason.removeAll()
        }

        /// Decodes a line; returns the error when it should stop the stream.
        mutating func take(
            _ line: LineSplitter.Line, decoder: NDJSONDecoder, ingestTime: Timestamp?, source: String?,
            strict: Bool, report: (LineError) -> Void
        ) -> LineError? {
            let failure: LineError
            switch line {
            case .tooLong(let length, let number):
                failure = LineError(source: source, line: number, error: DecodeError(
                    .lineTooLong, "line is \(length) bytes, longer than the limit of \(decoder.configuration.maximumLineBytes)"))
            case .line(let bytes, let number):
                if Self.isBlank(bytes) { return nil }
                switch decoder.decode(bytes, ingestTime: ingestTime) {
                case .success(let record):
                    records.append(record)
                    byType[record.kind.index] += 1
                    return nil
                case .failure(let error):
                    failure = LineError(source: source, line: number, error: error)
                }
            }
            errors += 1
            errorsByReason[failure.error.reason, default: 0] += 1
            report(failure)
            return strict ? failure : nil
        }

        static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for b in bytes where b != 0x20 && b != 0x09 && b != 0x0D { return false }
            return true
        }
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
