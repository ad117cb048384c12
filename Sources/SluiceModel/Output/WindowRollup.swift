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
        struct Key: Hashable { var span: WindowSpan; var series: SeriesKey }
        var groups: [Key: [WindowSummary]] = [:]
        for w in windows { groups[Key(span: span(of: w.span, step: step), series: w.series), default: []].append(w) }
        return groups.map { WindowSummary.merging($0.value, span: $0.key.span, series: $0.key.series) }
            .sorted { ($0.span, $0.series) < ($1.span, $1.series) }
    }

    /// One visits window per site per step, in order of end, then site.
    public static func visits(_ windows: [VisitsWindowSummary], step: WindowDuration) -> [VisitsWindowSummary] {
        struct Key: Hashable { var span: WindowSpan; var tenantID: String? }
        var groups: [Key: [VisitsWindowSummary]] = [:]
        for w in windows { groups[Key(span: span(of: w.span, step: step), tenantID: w.tenantID), default: []].append(w) }
        return groups.map { VisitsWindowSummary.merging($0.value, span: $0.key.span, tenantID: $0.key.tenantID) }
            .sorted { ($0.span, $0.tenantID ?? "") < ($1.span, $1.tenantID ?? "") }
    }

    /// One cache window per cache per step, in order of end, then tenant, cache and labels.
    public static func caches(_ windows: [CacheWindowSummary], step: WindowDuration) -> [CacheWindowSummary] {
        struct Key: Hashable { var span: WindowSpan; var series: SeriesKey }
        var groups: [Key: [CacheWindowSummary]] = [:]
        for w in windows {
            let series = SeriesKey(tenantID: w.tenantID, name: w.cache ?? "", labels: w.labels)
            groups[Key(span: span(of: w.span, step: step), series: series), default: []].append(w)
        }
        return groups.sorted { ($0.key.span, $0.key.series) < ($1.key.span, $1.key.series) }
            .map { CacheWindowSummary.merging($0.value.sorted { $0.span < $1.span }, span: $0.key.span) }
    }
}
