/// Rolls windows up into coarser steps: one window per series per step, merged from the
/// step's windows by the rules of `WindowSummary.merging`. Queries with a `step` and the
/// downsampling tiers both use it, so a tier holds exactly what a query would have merged.
public enum WindowRollup {
    /// Why a step cannot roll up a window.
    public struct StepProblem: Error, Sendable, Hashable, CustomStringConvertible {
        public var step: WindowDuration
        public var window: WindowDuration
        public var description: String { "step=\(step) is not a multiple of the \(window) window" }
        public init(step: WindowDuration, window: WindowDuration) {
            self.step = step
            self.window = window
        }
    }

    /// The step-aligned span that holds `span` (epoch-aligned, as windows are).
    @inlinable
    public static func span(of span: WindowSpan, step: WindowDuration) -> WindowSpan {
        WindowSpan(length: step, containing: span.start)
    }

    /// Whether every window of `length` lies inside one step.
    public static func check(step: WindowDuration, window length: WindowDuration) -> StepProblem? {
        step.microseconds % length.microseconds == 0 ? nil : StepProblem(step: step, window: length)
    }

    /// One window per series per step, in design §3's order (by end, then series).
    public static func windows(_ windows: [WindowSummary], step: WindowDuration) -> [WindowSummary] {
        var accumulator = Accumulator(step: step)
        for w in windows { accumulator.add(.window(w)) }
        return accumulator.windows()
    }

    /// One visits window per site per step, in order of end, then site.
    public static func visits(_ windows: [VisitsWindowSummary], step: WindowDuration) -> [VisitsWindowSummary] {
        var accumulator = Accumulator(step: step)
        for w in windows { accumulator.add(.visitsWindow(w)) }
        return accumulator.visits()
    }

    /// One cache window per cache per step, in order of end, then tenant, cache and labels.
    public static func caches(_ windows: [CacheWindowSummary], step: WindowDuration) -> [CacheWindowSummary] {
        var accumulator = Accumulator(step: step)
        for w in windows { accumulator.add(.cacheWindow(w)) }
        return accumulator.caches()
    }

    /// Rolls windows up as they stream past: one running union per series per step, so it
    /// holds the answer, not the windows it was given. Records that are not windows are
    /// ignored.
    public struct Accumulator: Sendable {
        public let step: WindowDuration
        struct Key: Hashable { var span: WindowSpan; var series: SeriesKey }
        private var windowUnions: [Key: WindowUnion] = [:]
        private var cacheUnions: [Key: CacheWindowUnion] = [:]
        private var visitsUnions: [Key: VisitsWindowUnion] = [:]

        public init(step: WindowDuration) { self.step = step }

        public var isEmpty: Bool { windowUnions.isEmpty && cacheUnions.isEmpty && visitsUnions.isEmpty }

        public mutating func add(_ record: OutputRecord) {
            switch record {
            case .window(let w):
                windowUnions[Key(span: span(of: w.span, step: step), series: w.series), default: WindowUnion()].add(w)
            case .cacheWindow(let c):
                let series = SeriesKey(tenantID: c.tenantID, name: c.cache ?? "", labels: c.labels)
                cacheUnions[Key(span: span(of: c.span, step: step), series: series), default: CacheWindowUnion()].add(c)
            case .visitsWindow(let v):
                visitsUnions[Key(span: span(of: v.span, step: step), series: SeriesKey(tenantID: v.tenantID, name: "")), default: VisitsWindowUnion()].add(v)
            default:
                break
            }
        }

        public func windows() -> [WindowSummary] {
            windowUnions.sorted { ($0.key.span, $0.key.series) < ($1.key.span, $1.key.series) }.map { $0.value.summary(span: $0.key.span, series: $0.key.series) }
        }

        public func caches() -> [CacheWindowSummary] {
            cacheUnions.sorted { ($0.key.span, $0.key.series) < ($1.key.span, $1.key.series) }.map { $0.value.summary(span: $0.key.span) }
        }

        public func visits() -> [VisitsWindowSummary] {
            visitsUnions.sorted { ($0.key.span, $0.key.series) < ($1.key.span, $1.key.series) }.map { $0.value.summary(span: $0.key.span, tenantID: $0.key.series.tenantID) }
        }

        /// Everything rolled up: windows, then cache windows, then visits windows.
        public func records() -> [OutputRecord] {
            windows().map(OutputRecord.window) + caches().map(OutputRecord.cacheWindow) + visits().map(OutputRecord.visitsWindow)
        }
    }
}
