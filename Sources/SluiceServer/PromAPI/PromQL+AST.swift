import SluiceModel

/// The subset of PromQL that Sluice answers (design §9): selectors, range vectors with
/// `offset`, `rate`/`increase`/`delta`, the `*_over_time` family, `quantile_over_time` over
/// window sketches, `sum`/`avg`/`min`/`max`/`count` with `by`/`without`, and arithmetic
/// with scalars. Parsing and evaluation are pure and synchronous; the routes load the series.
enum PromQL {
    /// Times and durations in the evaluator: microseconds, like `Timestamp`.
    typealias Micros = Int64

    /// How far back an instant selector looks for a sample (Prometheus' default).
    static let lookbackDelta: Micros = 5 * 60 * 1_000_000

    /// A parsed expression.
    indirect enum Expression: Sendable, Hashable {
        case number(Double)
        /// An instant vector selector: `cpu{host="a"} offset 5m`.
        case selector(Selector)
        /// A range vector selector: `cpu[5m]`.
        case range(Selector, Micros)
        case call(Function, [Expression])
        case aggregate(Aggregation, Grouping, Expression)
        case binary(BinaryOperator, Expression, Expression)
        case negation(Expression)

        /// What the expression evaluates to, as Prometheus' type checker sees it.
        var type: ValueType {
            switch self {
            case .number: .scalar
            case .selector: .instantVector
            case .range: .rangeVector
            case .call(let function, _): function.returnType
            case .aggregate: .instantVector
            case .binary(_, let l, let r): l.type == .scalar && r.type == .scalar ? .scalar : .instantVector
            case .negation(let e): e.type
            }
        }

        /// Every selector in the expression, with how far back each is read and whether it
        /// reads window sketches rather than samples.
        var selections: [Selection] {
            switch self {
            case .number: []
            case .selector(let s): [Selection(selector: s, range: PromQL.lookbackDelta, sketches: false)]
            case .range(let s, let range): [Selection(selector: s, range: range, sketches: false)]
            case .call(.quantileOverTime, let arguments):
                arguments.flatMap { argument -> [Selection] in
                    guard case .range(let s, let range) = argument else { return argument.selections }
                    return [Selection(selector: s, range: range, sketches: true)]
                }
            case .call(_, let arguments): arguments.flatMap(\.selections)
            case .aggregate(_, _, let e), .negation(let e): e.selections
            case .binary(_, let l, let r): l.selections + r.selections
            }
        }
    }

    /// A selector read over `range` before each evaluation time (after its offset).
    struct Selection: Sendable, Hashable {
        var selector: Selector
        var range: Micros
        /// `quantile_over_time` reads windows and their sketches, not samples.
        var sketches: Bool
    }

    /// The four kinds of value PromQL knows (strings are not supported).
    enum ValueType: String, Sendable, Hashable, CustomStringConvertible {
        case scalar
        case instantVector = "instant vector"
        case rangeVector = "range vector"
        var description: String { rawValue }
    }

    /// Label matchers and an offset.
    struct Selector: Sendable, Hashable {
        var matchers: [Matcher]
        var offset: Micros = 0

        /// The metric name when a matcher fixes it (`cpu` or `{__name__="cpu"}`): the store
        /// is then asked for that name only.
        var exactName: String? {
            matchers.first { $0.name == "__name__" && $0.op == .equal }?.value
        }

        /// The tenant when a matcher fixes it.
        var exactTenant: String? {
            matchers.first { $0.name == "tenant_id" && $0.op == .equal }?.value
        }

    }

    /// `name op "value"`. Regular expressions are fully anchored, as Prometheus anchors
    /// them; `LabelFilter` compiles them for matching.
    struct Matcher: Sendable, Hashable {
        enum Operator: String, Sendable, Hashable {
            case equal = "=", notEqual = "!=", matchesRegex = "=~", notMatchesRegex = "!~"
        }

        var name: String
        var op: Operator
        var value: String
    }

    /// The functions Sluice evaluates.
    enum Function: String, Sendable, Hashable, CaseIterable {
        case rate, increase, delta
        case avgOverTime = "avg_over_time", sumOverTime = "sum_over_time"
        case minOverTime = "min_over_time", maxOverTime = "max_over_time"
        case countOverTime = "count_over_time", lastOverTime = "last_over_time"
        case quantileOverTime = "quantile_over_time"

        var argumentTypes: [ValueType] {
            self == .quantileOverTime ? [.scalar, .rangeVector] : [.rangeVector]
        }

        var returnType: ValueType { .instantVector }

        /// Prometheus keeps the metric name only through `last_over_time`.
        var keepsName: Bool { self == .lastOverTime }
    }

    /// The aggregation operators Sluice evaluates.
    enum Aggregation: String, Sendable, Hashable, CaseIterable {
        case sum, avg, min, max, count
    }

    /// `by (…)`, `without (…)`, or neither (everything into one group).
    enum Grouping: Sendable, Hashable {
        case by([String])
        case without([String])
    }

    /// Arithmetic; at least one side a scalar.
    enum BinaryOperator: String, Sendable, Hashable, CaseIterable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", modulo = "%", power = "^"

        func apply(_ l: Double, _ r: Double) -> Double {
            switch self {
            case .add: l + r
            case .subtract: l - r
            case .multiply: l * r
            case .divide: l / r
            case .modulo: l.truncatingRemainder(dividingBy: r)
            case .power: pow(l, r)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
