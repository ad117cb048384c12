import SluiceModel

extension PromQL {
    /// One sample: a time (microseconds since the epoch) and a value.
    struct Sample: Sendable, Hashable {
        var time: Micros
        var value: Double
    }

    /// One series as Prometheus sees it: labels with `__name__`, samples in time order.
    struct Series: Sendable, Hashable {
        var labels: Labels
        var samples: [Sample]
    }

    /// One closed (or open) window of a series and its sketch, for `quantile_over_time`.
    struct SketchWindow: Sendable, Hashable {
        var start: Micros
        var end: Micros
        /// `nil` for windows stored before windows kept their sketches.
        var sketch: DDSketch?
    }

    /// The windows of one window series (labels with `__name__` = the series name, `window`
    /// and `tenant_id`), in order of their end.
    struct SketchSeries: Sendable, Hashable {
        var labels: Labels
        var windows: [SketchWindow]
    }

    /// What a query can read: every series loaded for it. The evaluator picks each
    /// selector's series from here.
    struct SeriesSet: Sendable {
        var series: [Series] = []
        var sketchSeries: [SketchSeries] = []
    }

    /// One element of an instant vector.
    struct Element: Sendable, Hashable {
        var labels: Labels
        var value: Double
    }

    /// An evaluation's result.
    enum Value: Sendable, Hashable {
        case scalar(Double)
        case vector([Element])
        /// Raw samples of a range selector (instant queries), or a range query's result.
        case matrix([Series])
    }
}

extension Labels {
    /// A copy without the labels named in `names`.
    func removing(_ names: Set<String>) -> Labels {
        Labels(pairs.filter { !names.contains($0.key) })
    }

    /// A copy with only the labels named in `names`.
    func keeping(_ names: Set<String>) -> Labels {
        Labels(pairs.filter { names.contains($0.key) })
    }

    /// Without `__name__`, as functions and arithmetic leave a series.
    var droppingName: Labels { removing(["__name__"]) }
}
