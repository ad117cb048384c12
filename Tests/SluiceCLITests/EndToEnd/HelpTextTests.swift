import Foundation
import Testing
import ArgumentParser
@testable import SluiceCLI

@Suite("Help texts")
struct HelpTextTests {
    /// Every command a user can ask `sluice help` about; "" is `sluice --help`.
    static let commands = [""] + Sluice.configuration.subcommands.map { $0._commandName }

    /// `sluice help COMMAND` as the built binary prints it on a terminal this wide.
    static func help(_ command: String, columns: Int) async throws -> String {
        let result = try await SluiceBinary.run(command.isEmpty ? ["--help"] : ["help", command], environment: ["COLUMNS": "\(columns)"])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// The example lines of a help text (indented lines under `Example:` or `Examples:`), with
    /// the shell's ` \` line continuations joined.
    static func examples(_ help: String) -> [String] {
        var found: [String] = [], inside = false, pending = ""
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "Example:" || trimmed == "Examples:" { inside = true; continue }
            guard inside else { continue }
            if trimmed.isEmpty || !line.hasPrefix(" ") { inside = false; continue }
            if trimmed.hasSuffix(" \\") {
                pending += trimmed.dropLast(2) + " "
            } else {
                found.append(pending + trimmed)
                pending = ""
            }
        }
        return found
    }

    @Test("help fits 80 columns, examples unbroken, with no stray backslash and no reference users lack", arguments: commands)
    func readable(command: String) async throws {
        let narrow = try await Self.help(command, columns: 80)
        let wide = try await Self.help(command, columns: 1_000)
        for line in narrow.split(separator: "\n") {
            #expect(line.count <= 80, "sluice help \(command): \(line.count) columns: \(line)")
        }
        // An example is written to fit, so a narrow terminal shows it as a wide one does.
        #expect(Self.examples(narrow) == Self.examples(wide), "sluice help \(command): an example was wrapped")
        var inExamples = false
        for line in wide.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "Example:" || trimmed == "Examples:" { inExamples = true; continue }
            if trimmed.isEmpty { inExamples = false }
            // A backslash before a blank or at the end of a line is a source-code line
            // continuation leaking out, unless it ends an example line for the shell.
            let continuation = inExamples && line.hasSuffix(" \\")
            let body = continuation ? line.dropLast() : line[...]
            #expect(!body.contains("\\ ") && !body.hasSuffix("\\") && !body.contains("\\\\"), "sluice help \(command): stray backslash: \(line)")
            #expect(!line.contains("design §"), "sluice help \(command): \(line)")
        }
    }

    @Test("every example in the help texts parses as a sluice command", arguments: commands)
    func examplesParse(command: String) async throws {
        let examples = Self.examples(try await Self.help(command, columns: 1_000))
        for example in examples {
            for arguments in ShellWords.sluiceInvocations(example) {
                do {
                    _ = try Sluice.parseAsRoot(arguments)
                } catch {
                    Issue.record("sluice help \(command): \(example): \(Sluice.message(for: error))")
                }
            }
        }
        if command != "" {
            let invocations = examples.flatMap { ShellWords.sluiceInvocations($0) }
            #expect(invocations.allSatisfy { $0.first == command }, "sluice help \(command) shows examples of \(command)")
        }
    }

    @Test("shell words: quotes, continuations, pipes and redirections")
    func shellWords() {
        #expect(ShellWords.sluiceInvocations(#"printf '%s\n' '{"a": 1}' | sluice run --window 10s > out.ndjson"#) == [["run", "--window", "10s"]])
        #expect(ShellWords.sluiceInvocations(#"sluice tail < app.ndjson; swift run sluice detect "my series.csv" 2>/dev/null"#)
                == [["tail"], ["detect", "my series.csv"]])
        #expect(ShellWords.sluiceInvocations("curl -s localhost:8080/metrics && echo done").isEmpty)
    }
}

/// Just enough of the shell's word splitting to find the `sluice` commands of an example.
enum ShellWords {
    /// The arguments of every `sluice` (or `swift run sluice`) command in `line`, without the
    /// redirections; the other commands of a pipeline or list are left out.
    static func sluiceInvocations(_ line: String) -> [[String]] {
        var commands: [[String]] = [[]]
        var word: String?
        var quote: Character?
        var skipNext = false
        var characters = Array(line)[...]
        func endWord() {
            if let w = word {
                if skipNext { skipNext = false } else { commands[commands.count - 1].append(w) }
            }
            word = nil
        }
        while let c = characters.popFirst() {
            if let q = quote {
                if c == q { quote = nil } else if c == "\\", q == "\"", let next = characters.popFirst() { word!.append(next) } else { word!.append(c) }
                continue
            }
            switch c {
            case "'", "\"":
                quote = c
                word = word ?? ""
            case "\\":
                if let next = characters.popFirst() { word = (word ?? "") + String(next) }
            case " ", "\t":
                endWord()
            case "|", ";", "&", "(", ")":
                endWord()
                commands.append([])
            case "<", ">":
                // `2>` names a descriptor: that word is part of the redirection.
                if word?.allSatisfy(\.isNumber) == true { word = nil }
                endWord()
                while characters.first == ">" || characters.first == "&" { characters.removeFirst() }
                skipNext = true
            default:
                word = (word ?? "") + String(c)
            }
        }
        endWord()
        return commands.compactMap { words in
            if words.first == "sluice" { return Array(words.dropFirst()) }
            if words.starts(with: ["swift", "run", "sluice"]) { return Array(words.dropFirst(3)) }
            return nil
        }
    }
}
