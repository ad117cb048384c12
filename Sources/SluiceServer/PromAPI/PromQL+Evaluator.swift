import SluiceModel

extension PromQL {
    /// Evaluates a parsed expression over loaded series, at one time or at every step of a
    /// range. Pure and synchronous: the series are an argument, times are arguments.
    struct Evaluator {
        private var samples: [Selector: [Series]] = [:]
        private var sketches: [Selector: [SketchSeries]] = [:]
        /// Samples a range query may answer in all, as Prometheus' `query.max-samples` default.
        static let maximumSamples = 50_000_000

        /// Warnings for the response (`warnings` in the envelope), each once, in order.
        private(set) var warnings: [String] = []

        /// Picks each selector's series out of `data` once, for every evaluation after.
        init(_ expression: Expression, data: SeriesSet) throws(APIError) {
            for selection in expression.selections {
                let filter = try LabelFilter(selection.selector.matchers)
                if selection.sketches {
                    sketches[selection.selector] = data.sketchSeries.filter { filter.matches($0.labels) }
                } else if samples[selection.selector] == nil {
                    samples[selection.selector] = data.series.filter { filter.matches($0.labels) }
                }
            }
        }

        /// The window series a `quantile_over_time` selector picked.
        func sketchSeries(_ s: Selector) -> [SketchSeries] { sketches[s] ?? [] }

        mutating func warn(_ message: String) {
            if !warnings.contains(message) { warnings.append(message) }
        }

        /// The value of `expression` at `time` (an instant query).
        mutating func evaluate(_ expression: Expression, at time: Micros) throws(APIError) -> Value {
            switch expression {
            case .number(let n):
                return .scalar(n)
            case .selector(let s):
                let at = time - s.offset
                var out: [Element] = []
                for series in samples[s] ?? [] {
                    // The latest sample in (t − 5m, t].
                    let end = Self.upperBound(series.samples, at)
                    if end > 0, series.samples[end - 1].time > at - PromQL.lookbackDelta {
                        out.append(Element(labels: series.labels, value: series.samples[end - 1].value))
                    }
                }
                return .vector(out)
            case .range(let s, let range):
                let at = time - s.offset
                return .matrix((samples[s] ?? []).compactMap { series in
                    let window = Self.window(series.samples, after: at - range, through: at)
                    return window.isEmpty ? nil : Series(labels: series.labels, samples: Array(window))
                })
            case .call(let function, let arguments):
                return .vector(try call(function, arguments, at: time))
            case .aggregate(let aggregation, let grouping, let argument):
                guard case .vector(let elements) = try evaluate(argument, at: time) else { return .vector([]) }
                return .vector(Self.aggregate(aggregation, grouping, elements))
            case .binary(let op, let lhs, let rhs):
                let (l, r) = (try evaluate(lhs, at: time), try evaluate(rhs, at: time))
                switch (l, r) {
                case (.scalar(let a), .scalar(let b)): return .scalar(op.apply(a, b))
                case (.vector(let v), .scalar(let b)):
                    return .vector(v.map { Element(labels: $0.labels.droppingName, value: op.apply($0.value, b)) })
                case (.scalar(let a), .vector(let v)):
                    return .vector(v.map { Element(labels: $0.labels.droppingName, value: op.apply(a, $0.value)) })
                default:
                    throw .badData("arithmetic between two instant vectors is not supported")
                }
            case .negation(let operand):
                switch try evaluate(operand, at: time) {
                case .scalar(let n): return .scalar(-n)
                case .vector(let v): return .vector(v.map { Element(labels: $0.labels.droppingName, value: -$0.value) })
                case .matrix: throw .badData("unary minus is only allowed on a scalar or an instant vector")
                }
            }
        }

        /// The value at every step from `start` through `end` (a range query): one series per
        /// label set, sorted by labels. A scalar becomes a series without labels.
        mutating func evaluate(_ expression: Expression, from start: Micros, through end: Micros, step: Micros) throws(APIError) -> [Series] {
            guard expression.type == .scalar || expression.type == .instantVector else {
                throw .badData("invalid expression type \"\(expression.type)\" for range query, must be scalar or instant vector")
            }
            var series: [Labels: [Sample]] = [:]
            var time = start
            var total = 0
            while time <= end {
                switch try evaluate(expression, at: time) {
                case .scalar(let n): series[Labels(), default: []].append(Sample(time: time, value: n))
                case .vector(let elements):
                    total += elements.count
                    guard total <= Self.maximumSamples else {
                        throw .execution("query processing would load too many samples into memory in query execution (more than \(Self.maximumSamples)); narrow the selector or the range, or raise the step")
                    }
                    for e in elements { series[e.labels, default: []].append(Sample(time: time, value: e.value)) }
                case .matrix: break
                }
                time += step
            }
            return series.map { Series(labels: $0.key, samples: $0.value) }.sorted { $0.labels < $1.labels }
        }

        // MARK: Aggregation

        static func aggregate(_ aggregation: Aggregation, _ grouping: Grouping, _ elements: [Element]) -> [Element] {
            var groups: [Labels: [Double]] = [:]
            var order: [Labels] = []
            for e in elements {
                let key: Labels
                switch grouping {
                case .by(let names): key = e.labels.keeping(Set(names))
                case .without(let names): key = e.labels.removing(Set(names).union(["__name__"]))
                }
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(e.value)
            }
            return order.map { key in
                let values = groups[key]!
                let value: Double
                switch aggregation {
                case .sum: value = KahanSum(values).value
                case .avg: value = KahanSum(values).value / Double(values.count)
                case .count: value = Double(values.count)
                case .min: value = values.reduce(Double.nan) { $1 < $0 || $0.isNaN ? $1 : $0 }
                case .max: value = values.reduce(Double.nan) { $1 > $0 || $0.isNaN ? $1 : $0 }
                }
                return Element(labels: key, value: value)
            }
        }

        // MARK: Search

        /// The index after the last sample at or before `time`.
        static func upperBound(_ samples: [Sample], _ time: Micros) -> Int {
            var (low, high) = (0, samples.count)
            while low < high {
                let mid = (low + high) / 2
                if samples[mid].time <= time { low = mid + 1 } else { high = mid }
            }
            return low
        }

        /// The samples in `(after, through]`: Prometheus' left-open range.
        static func window(_ samples: [Sample], after: Micros, through: Micros) -> ArraySlice<Sample> {
            let low = upperBound(samples, after)
            let high = upperBound(samples, through)
            return low < high ? samples[low..<high] : []
        }

        /// Function results must not repeat a label set once the metric name is gone.
        static func checkUnique(_ elements: [Element]) throws(APIError) {
            var seen: Set<Labels> = []
            for e in elements where !seen.insert(e.labels).inserted {
                throw .execution("vector cannot contain metrics with the same labelset")
            }
        }
    }

    /// Neumaier's compensated sum, as Prometheus sums floats.
    struct KahanSum {
        private var sum = 0.0
        private var compensation = 0.0

        init(_ values: some Sequence<Double>) {
            for v in values { add(v) }
        }

        mutating func add(_ v: Double) {
            let t = sum + v
            if t.isInfinite {
                compensation = 0
            } else if abs(sum) >= abs(v) {
                compensation += (sum - t) + v
            } else {
                compensation += (v - t) + sum
            }
            sum = t
        }

        var value: Double { sum.isInfinite ? sum : sum + compensation }
    }
}
