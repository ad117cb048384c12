import SluiceModel

extension PromQL.Evaluator {
    typealias Micros = PromQL.Micros

    /// A function over a range vector, one element per series with samples in the range.
    mutating func call(_ function: PromQL.Function, _ arguments: [PromQL.Expression], at time: Micros) throws(APIError) -> [PromQL.Element] {
        if function == .quantileOverTime {
            guard case .scalar(let q) = try evaluate(arguments[0], at: time), case .range(let s, let range) = arguments[1] else { return [] }
            return try quantileOverTime(q, s, range: range, at: time)
        }
        guard case .range(let s, let range) = arguments[0] else {
            throw .badData("expected a range vector selector such as m[5m] in call to \(function.rawValue)")
        }
        guard case .matrix(let matrix) = try evaluate(arguments[0], at: time) else { return [] }
        let at = time - s.offset
        var out: [PromQL.Element] = []
        for series in matrix {
            let labels = function.keepsName ? series.labels : series.labels.droppingName
            if let value = Self.apply(function, series.samples[...], rangeStart: at - range, rangeEnd: at) {
                out.append(PromQL.Element(labels: labels, value: value))
            }
        }
        try Self.checkUnique(out)
        return out
    }

    /// One function over the samples of one series in `(rangeStart, rangeEnd]`; `nil` when
    /// there are too few samples for an answer.
    static func apply(_ function: PromQL.Function, _ samples: ArraySlice<PromQL.Sample>, rangeStart: Micros, rangeEnd: Micros) -> Double? {
        guard let last = samples.last else { return nil }
        switch function {
        case .rate: return extrapolatedRate(samples, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: true, isRate: true)
        case .increase: return extrapolatedRate(samples, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: true, isRate: false)
        case .delta: return extrapolatedRate(samples, rangeStart: rangeStart, rangeEnd: rangeEnd, isCounter: false, isRate: false)
        case .sumOverTime: return PromQL.KahanSum(samples.lazy.map(\.value)).value
        case .avgOverTime: return PromQL.KahanSum(samples.lazy.map(\.value)).value / Double(samples.count)
        case .countOverTime: return Double(samples.count)
        case .lastOverTime: return last.value
        case .minOverTime: return samples.reduce(Double.nan) { $1.value < $0 || $0.isNaN ? $1.value : $0 }
        case .maxOverTime: return samples.reduce(Double.nan) { $1.value > $0 || $0.isNaN ? $1.value : $0 }
        case .quantileOverTime: return nil
        }
    }

    /// Prometheus' `extrapolatedRate` (promql/functions.go): the change between the first and
    /// last sample in the range (counter resets added back for counters), extrapolated to the
    /// range's edges when the samples come close enough to them (within 1.1 average sample
    /// intervals; otherwise by half an interval), and for counters never below zero.
    static func extrapolatedRate(_ samples: ArraySlice<PromQL.Sample>, rangeStart: Micros, rangeEnd: Micros,
                                 isCounter: Bool, isRate: Bool) -> Double? {
        guard samples.count >= 2, let first = samples.first, let last = samples.last else { return nil }
        var result = last.value - first.value
        if isCounter {
            var previous = first.value
            for sample in samples.dropFirst() {
                if sample.value < previous { result += previous }
                previous = sample.value
            }
        }
        var durationToStart = Double(first.time - rangeStart) / 1e6
        var durationToEnd = Double(rangeEnd - last.time) / 1e6
        let sampledInterval = Double(last.time - first.time) / 1e6
        let averageInterval = sampledInterval / Double(samples.count - 1)
        let threshold = averageInterval * 1.1

        if durationToStart >= threshold { durationToStart = averageInterval / 2 }
        if isCounter && result > 0 && first.value >= 0 {
            // A counter starts at zero: never extrapolate below it.
            let durationToZero = sampledInterval * (first.value / result)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        if durationToEnd >= threshold { durationToEnd = averageInterval / 2 }

        var factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
        if isRate { factor /= Double(rangeEnd - rangeStart) / 1e6 }
        return result * factor
    }

    /// `quantile_over_time(q, name[d])` over window sketches: per window series, the sketches
    /// of the windows inside `[t − d, t]` merged, then asked for quantile `q` (nearest rank,
    /// within the sketch's 1%). A series with a window that has no sketch (stored in the
    /// older format) gets no value and the answer a warning: a number from the stored
    /// percentiles would be wrong.
    mutating func quantileOverTime(_ q: Double, _ s: PromQL.Selector, range: Micros, at time: Micros) throws(APIError) -> [PromQL.Element] {
        let at = time - s.offset
        var out: [PromQL.Element] = []
        for series in sketchSeries(s) {
            let inside = series.windows.filter { $0.start >= at - range && $0.end <= at }
            guard !inside.isEmpty else { continue }
            let missing = inside.filter { $0.sketch == nil }.count
            if missing > 0 {
                warn("quantile_over_time: \(missing) window(s) of \(PromResponse.seriesName(series.labels)) were stored without their sketch (an older format); that series is left out rather than answered from stored percentiles")
                continue
            }
            var merged = DDSketch()
            for w in inside { merged.merge(w.sketch!) }
            let value: Double
            if q.isNaN { value = .nan } else if q < 0 { value = -.infinity } else if q > 1 { value = .infinity } else {
                guard let v = merged.quantile(q) else { continue }
                value = v
            }
            out.append(PromQL.Element(labels: series.labels.droppingName, value: value))
        }
        try Self.checkUnique(out)
        return out
    }
}
