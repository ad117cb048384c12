import ArgumentParser
import SluiceConfig
import SluiceModel
import SluicePipeline

/// The options `run`, `replay` and `tail` share.
struct PipelineOptions: ParsableArguments {
    @Option(name: .customLong("window"), help: ArgumentHelp(
        "A tumbling window length such as 10s, 1m or 1h; repeat for several (default: 1m, or pipeline.windows).",
        valueName: "D"))
    var windows: [String] = []

    @Option(help: ArgumentHelp(
        "How far behind the newest event time a record may arrive and still count (default: 5s, or pipeline.lateness).",
        valueName: "D"))
    var lateness: String?

    @Option(help: ArgumentHelp("A YAML configuration file (see Config/sluice.yml for every key).", valueName: "FILE"))
    var config: String?

    @Flag(help: "Stop at the first malformed line (exit status 65) instead of reporting it and going on.")
    var strict = false

    func validate() throws {
        for w in windows {
            if case .failure(let problem) = WindowDuration.parseUserInput(w, name: "--window") { throw ValidationError(problem.description) }
        }
        if let lateness, case .failure(let problem) = WindowDuration.parseUserInput(lateness, name: "--lateness", minimum: .zero) {
            throw ValidationError(problem.description)
        }
    }

    /// The configuration file (or the defaults) with the command-line flags on top.
    func resolvedConfiguration() throws -> Configuration {
        var configuration = try loadConfiguration(config)
        if !windows.isEmpty { configuration.pipeline.windows = windows.compactMap { WindowDuration(parsing: $0) } }
        if let lateness, let d = WindowDuration(parsing: lateness) { configuration.pipeline.lateness = d }
        return configuration
    }
}
