import ArgumentParser
import SluiceModel
import SluicePipeline

/// `sluice detect`: the anomaly detector over a CSV series, as the Numenta Anomaly Benchmark
/// feeds detectors.
struct Detect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score every row of a timestamp,value CSV series for anomalies.",
        usage: "sluice detect <FILE.csv> [<options>]",
        discussion: """
            Reads a CSV with a header naming `timestamp` and `value` columns (the Numenta Anomaly \
            Benchmark's format) and writes `timestamp,value,anomaly_score`, one row per input \
            row, in order. Streaming: a row's score depends only on the rows up to and including \
            it. The same detector watches closed windows in `run` and `serve`. Rows whose value \
            is not a number are reported on stderr with their line and scored 0.

            The score is the highest of three detectors on one 0-1 scale: contextual novelty, \
            a seasonal baseline (for series with a period of their own, found as they stream) \
            and a level shift. `run` and `serve` report windows scoring at least \
            anomaly.threshold (0.643).

            Warm-up: the first \(AnomalyModel.defaultWarmup) rows (--warmup) teach the detector \
            the series and score 0, as a new series in `run` and `serve` raises no anomaly \
            during its first \(AnomalyModel.defaultWarmup) windows (anomaly.warmup).

            The model constants below are chosen, with the threshold, by leave-one-category-out \
            cross-validation on the Numenta Anomaly Benchmark; the options exist to compare \
            other settings (Benchmarks/nab_cv.py --grid in the source tree runs them all).

            Example:
              sluice detect series.csv --output scores.csv
            """
    )

    @Argument(help: ArgumentHelp("The CSV series.", valueName: "FILE.csv")) var file: String
    @Option(help: ArgumentHelp("Write the scores here instead of stdout.", valueName: "FILE")) var output: String?
    @Option(help: ArgumentHelp("Rows that score 0 while the detector learns the series.", valueName: "N"))
    var warmup = AnomalyModel.defaultWarmup

    @OptionGroup(title: "Model constants (defaults: the cross-validated choice)")
    var tuning: TuningOptions

    func validate() throws {
        if warmup < 0 { throw ValidationError("--warmup \(warmup): expected 0 or more rows") }
    }

    func run() async throws {
        let reader = try FileDescriptorReader.open(path: file)
        let sink = try output.map { try NDJSONSink.create(path: $0) } ?? NDJSONSink(descriptor: 1)
        var splitter = LineSplitter(maximumLineBytes: 1 << 20)
        var scorer = CSVScorer(model: AnomalyModel(warmup: warmup), tuning: tuning.tuning)
        var problem: String?
        for try await chunk in reader {
            var out: [UInt8] = []
            chunk.withUnsafeBufferPointer { bytes in
                splitter.feed(bytes) { line in
                    if problem == nil, let error = scorer.take(line, into: &out) { problem = error }
                }
            }
            if let problem { throw ValidationError("\(file): \(problem)") }
            try sink.writeRaw(out)
        }
        var out: [UInt8] = []
        splitter.finish { line in
            if problem == nil, let error = scorer.take(line, into: &out) { problem = error }
        }
        if let problem { throw ValidationError("\(file): \(problem)") }
        try sink.writeRaw(out)
        try await sink.finish()
    }
}

/// `sluice detect`'s options for the model's constants.
struct TuningOptions: ParsableArguments {
    private static let standard = AnomalyModel.Tuning.standard

    @Option(help: ArgumentHelp("A novel value within this many deviations of both baselines scores --near-factor times its novelty.",
                               valueName: "Z"))
    var near = standard.near
    @Option(help: ArgumentHelp("The factor for a novel value near both baselines, or echoing a recent excursion.", valueName: "F"))
    var nearFactor = standard.nearFactor
    @Option(help: ArgumentHelp("A novel value less than R times as far from the mean as the farthest of the last --recent-span values scores --near-factor times its novelty (0: off).",
                               valueName: "R"))
    var recentRatio = standard.recentRatio
    @Option(help: ArgumentHelp("The values before it that --recent-ratio looks at (1 to \(AnomalyModel.Tuning.longestRecentSpan)).",
                               valueName: "N"))
    var recentSpan = standard.recentSpan
    @Option(help: ArgumentHelp("Seasonal and level-shift z-scores score z/(z+SCALE).", valueName: "SCALE"))
    var scale = standard.scale
    @Option(help: ArgumentHelp("A seasonal score passes only above all of its own in this many values before it.", valueName: "N"))
    var seasonalSpan = standard.seasonalSpan
    @Option(help: ArgumentHelp("A level-shift score passes only above all of its own in this many values before it.", valueName: "N"))
    var shiftSpan = standard.shiftSpan

    func validate() throws {
        guard near.isFinite, near >= 0 else { throw ValidationError("--near \(near): expected a number of deviations, 0 or more") }
        guard nearFactor.isFinite, (0...1).contains(nearFactor) else { throw ValidationError("--near-factor \(nearFactor): expected 0 to 1") }
        guard recentRatio.isFinite, recentRatio >= 0 else { throw ValidationError("--recent-ratio \(recentRatio): expected 0 or more") }
        guard (1...AnomalyModel.Tuning.longestRecentSpan).contains(recentSpan) else {
            throw ValidationError("--recent-span \(recentSpan): expected 1 to \(AnomalyModel.Tuning.longestRecentSpan) values")
        }
        guard scale.isFinite, scale > 0 else { throw ValidationError("--scale \(scale): expected a number above 0") }
        guard seasonalSpan >= 1, shiftSpan >= 1 else { throw ValidationError("--seasonal-span and --shift-span: expected 1 or more values") }
    }

    var tuning: AnomalyModel.Tuning {
        AnomalyModel.Tuning(near: near, nearFactor: nearFactor, recentRatio: recentRatio, recentSpan: recentSpan, scale: scale,
                            seasonalSpan: seasonalSpan, shiftSpan: shiftSpan)
    }
}

/// Turns CSV rows into scored rows, one at a time.
struct CSVScorer {
    var model: AnomalyModel
    var tuning = AnomalyModel.Tuning.standard
    var timestampColumn = -1
    var valueColumn = -1

    /// Handles one line; returns a fatal problem (no header), otherwise nil.
    mutating func take(_ line: LineSplitter.Line, into out: inout [UInt8]) -> String? {
        guard case .line(let bytes, let number) = line else {
            if case .tooLong(_, let number) = line { StandardError.write("line \(number): longer than 1 MiB; skipped\n") }
            return nil
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if text.allSatisfy({ $0 == " " || $0 == "\t" }) { return nil }
        let fields = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCSVField() }
        if timestampColumn < 0 {
            guard let t = fields.firstIndex(of: "timestamp"), let v = fields.firstIndex(of: "value") else {
                return "line \(number): expected a header naming the timestamp and value columns"
            }
            (timestampColumn, valueColumn) = (t, v)
            out.append(contentsOf: Array("timestamp,value,anomaly_score\n".utf8))
            return nil
        }
        let timestamp = fields.count > timestampColumn ? fields[timestampColumn] : ""
        let valueText = fields.count > valueColumn ? fields[valueColumn] : ""
        var score = 0.0
        if let value = Double(valueText), value.isFinite {
            score = model.observe(value, tuning: tuning).score
        } else {
            StandardError.write("line \(number): value \"\(valueText)\" is not a finite number; scored 0\n")
        }
        var json = JSONWriter(capacity: 64)
        json.number(score)
        out.append(contentsOf: Array("\(timestamp),\(valueText),".utf8))
        out.append(contentsOf: json.bytes)
        out.append(0x0A)
        return nil
    }
}

extension Substring {
    /// A CSV field without surrounding blanks, quotes or a carriage return.
    func trimmingCSVField() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\"" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\"" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
