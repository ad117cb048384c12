import SluiceConfig
import SluiceModel

/// The downsampling tiers beside a data directory (design §9).
///
/// Each tier is a data directory of its own, `tiers/<step>/` (`tiers/1h/`, `tiers/1d/`),
/// holding sealed segments of windows of that step: `window`, `cache_window` and
/// `visits_window` records rolled up from the finer data with `WindowRollup`, so counts and
/// sums are exact and the sketches merged. A tier rolls up from the finest tier whose step
/// divides its own, else from the pipeline's windows (the base tier).
///
/// Rolling up is incremental, atomic and idempotent. A tier's windows go into sealed segments of
/// `stepsPerSegment` steps each, whose id encodes the end of the time they hold. A run appends
/// the new windows to the segment they belong in by writing the whole file again beside it
/// and renaming it into place (the old frames are a prefix of the new file, so a reader midway
/// is not disturbed). A tier's progress is the end of its latest window: a crash before a
/// rename leaves the old file and the old progress, and the next run writes the same windows
/// again. Steps with no windows are looked at again until a later step has some, which costs
/// a read of an empty range and writes nothing.
public struct Tiers: Sendable {
    /// One tier: its step, how long it is kept, and its directory.
    public struct Tier: Sendable {
        public let step: WindowDuration
        public let maxAge: WindowDuration
        public let directory: DataDirectory
    }

    /// Where a tier (or a query) reads windows from, and which window length it reads.
    public struct Source: Sendable {
        public let directory: DataDirectory
        public let length: WindowDuration
        /// The tier's index, `nil` for the base.
        public let tier: Int?
    }

    public let base: DataDirectory
    /// The pipeline's window lengths.
    public let baseLengths: [WindowDuration]
    /// Ascending by step.
    public let tiers: [Tier]

    /// Tiers the configuration names that cannot be filled (no shorter pipeline window
    /// divides the step), each with why: they are left out.
    public let unusable: [String]

    /// Opens (and creates) the tiers the configuration names. A step that no shorter pipeline
    /// window divides could never be filled: it is left out, and `unusable` says so.
    public init(base: DataDirectory, windows: [WindowDuration], configuration: [Configuration.Retention.Tier]) throws(StoreError) {
        self.base = base
        baseLengths = windows.sorted()
        var tiers: [Tier] = []
        var unusable: [String] = []
        for tier in configuration.sorted(by: { $0.step < $1.step }) {
            guard windows.contains(where: { tier.step.microseconds % $0.microseconds == 0 && tier.step > $0 }) else {
                let lengths = windows.map(\.humanDescription).joined(separator: ", ")
                unusable.append("retention.tiers: the \(tier.step.humanDescription) tier is off: its step is not a multiple of a shorter pipeline window (\(lengths))")
                continue
            }
            tiers.append(Tier(step: tier.step, maxAge: tier.maxAge,
                              directory: try DataDirectory(path: "\(base.path)/tiers/\(tier.step.humanDescription)", create: true)))
        }
        self.tiers = tiers
        self.unusable = unusable
    }

    /// The tier directories a data directory holds, whatever the configuration says now
    /// (`verify` checks them all), by name.
    public static func directories(in base: DataDirectory) -> [(name: String, directory: DataDirectory)] {
        guard let names = try? FileIO.list(base.path + "/tiers") else { return [] }
        return names.sorted().compactMap { name in
            (try? DataDirectory(path: "\(base.path)/tiers/\(name)", create: false)).map { ("tiers/\(name)", $0) }
        }
    }

    /// Where tier `index` rolls up from: the coarsest finer tier whose step divides its own,
    /// else the base windows of the longest length that divides it.
    public func source(of index: Int) -> Source {
        let step = tiers[index].step
        if let finer = tiers[..<index].lastIndex(where: { step.microseconds % $0.step.microseconds == 0 }) {
            return Source(directory: tiers[finer].directory, length: tiers[finer].step, tier: finer)
        }
        return baseSource(for: step)!
    }

    /// The base windows that fit `step`: the longest pipeline length that divides it.
    public func baseSource(for step: WindowDuration) -> Source? {
        baseLengths.last { step.microseconds % $0.microseconds == 0 }.map { Source(directory: base, length: $0, tier: nil) }
    }

    /// How far tier `index` is rolled up: the end of its latest window. `nil` before its
    /// first window.
    public func progress(of index: Int) throws(StoreError) -> Timestamp? {
        try Self.latestWindowStart(tiers[index].directory).map { $0 + tiers[index].step }
    }

    /// The pieces a query at `step` over `[from, to)` reads, coarsest first: each tier whose
    /// step divides `step` up to its progress, then the base windows for the rest. Pieces do
    /// not overlap, so merging them counts every sample once.
    public func plan(step: WindowDuration, from: Timestamp?, to: Timestamp?) throws(StoreError) -> [(source: Source, from: Timestamp?, to: Timestamp?)] {
        var pieces: [(source: Source, from: Timestamp?, to: Timestamp?)] = []
        var start = from
        for index in tiers.indices.reversed() where step.microseconds % tiers[index].step.microseconds == 0 {
            guard let done = try progress(of: index) else { continue }
            if let to, done >= to {
                pieces.append((Source(directory: tiers[index].directory, length: tiers[index].step, tier: index), start, to))
                return pieces
            }
            if start.map({ $0 < done }) ?? true {
                pieces.append((Source(directory: tiers[index].directory, length: tiers[index].step, tier: index), start, done))
                start = done
            }
        }
        if let base = baseSource(for: step) { pieces.append((base, start, to)) }
        return pieces
    }

    /// Steps of a tier per segment file: a day of the 1h tier, 24 days of the 1d tier.
    static let stepsPerSegment: Int64 = 24

    // A segment id is the end of the time it holds, in seconds, offset so that times before
    // 1970 still sort (ids are unsigned and compared as numbers).
    static let idOffset: Int64 = 1 << 40

    /// The segment that holds windows of `step` starting at `start`.
    static func segmentID(step: WindowDuration, start: Timestamp) -> UInt64 {
        UInt64(segmentEnd(step: step, start: start).microseconds / 1_000_000 + idOffset)
    }

    /// The end of the time that segment holds.
    static func segmentEnd(step: WindowDuration, start: Timestamp) -> Timestamp {
        let period = step.microseconds * stepsPerSegment
        return Timestamp(microseconds: floor(start.microseconds, period) + period)
    }
}
