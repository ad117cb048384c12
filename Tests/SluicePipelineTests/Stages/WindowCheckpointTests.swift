import Testing
import SluiceModel
@testable import SluicePipeline

@Suite("Window checkpoint")
struct WindowCheckpointTests {
    typealias Machine = WindowAggregator.StateMachine

    /// Checkpoint, encode, decode, resume: what a restart does.
    static func restarted(_ machine: Machine, configuration: WindowAggregator.Configuration? = nil) throws -> Machine {
        let bytes = machine.checkpoint().encoded()
        let decoded = try WindowCheckpoint(decoding: bytes)
        #expect(decoded.encoded() == bytes, "a decoded checkpoint encodes to the same bytes")
        return try Machine(configuration: configuration ?? machine.configuration, resuming: decoded)
    }

    static func uninterrupted(_ records: [Record], _ configuration: WindowAggregator.Configuration) -> (Machine, [StageEvent]) {
        var machine = Machine(configuration: configuration)
        var events: [StageEvent] = []
        for r in records { machine.record(r, into: &events) }
        machine.inputFinished(into: &events)
        return (machine, events)
    }

    static func metric(_ seconds: Double, _ value: Double, name: String = "m") -> Record {
        .metric(MetricRecord(timestamp: Timestamp(microseconds: MixedStream.base + Int64(seconds * 1_000_000)), tenantID: "t", name: name, value: value))
    }

    @Test("a restart at any point gives the uninterrupted run's output, byte for byte, and its late counts",
          arguments: MixedStream.scenarios)
    func restartAnywhere(stream: MixedStream) throws {
        let records = stream.records()
        let (a, expected) = Self.uninterrupted(records, stream.configuration)
        #expect(a.late > 0, "the stream has late records")
        if stream.visitors > 2_048 {
            let dense = expected.contains { if case .output(.visitsWindow(let w)) = $0 { w.uniqueVisitors > 2_048 } else { false } }
            #expect(dense, "some site's visitors outgrow the exact HyperLogLog")
        }
        var random = SeededRandom(seed: stream.seed &* 31)
        let cuts = [0, records.count] + (0..<10).map { _ in Int(random.next() % UInt64(records.count)) }
        for cut in cuts {
            var b = Machine(configuration: stream.configuration)
            var events: [StageEvent] = []
            for r in records[..<cut] { b.record(r, into: &events) }
            b = try Self.restarted(b)
            for r in records[cut...] { b.record(r, into: &events) }
            b.inputFinished(into: &events)
            let difference = firstDifference(rendered(expected), rendered(events))
            #expect(difference == nil, "restart after \(cut) records: \(difference ?? "")")
            #expect(b.late == a.late)
            #expect(b.lateByWindow == a.lateByWindow)
        }
    }

    @Test("the input position goes through a checkpoint; without one the bytes are version 1's")
    func position() throws {
        var machine = Machine(configuration: .init(windows: [.minutes(1)], lateness: .seconds(5)))
        var events: [StageEvent] = []
        machine.record(Self.metric(1, 2), into: &events)
        let without = machine.checkpoint().encoded()
        #expect(without[8] == 1, "no position: written as version 1, as before positions")
        #expect(try Self.restarted(machine).position == 0)
        for position: UInt64 in [1, 127, 128, 1 << 40] {
            machine.position = position
            let bytes = machine.checkpoint().encoded()
            #expect(bytes[8] == 2)
            let resumed = try Self.restarted(machine)
            #expect(resumed.position == position)
            #expect(rendered(resumed.openSummaries().map { .output($0) }) == rendered(machine.openSummaries().map { .output($0) }))
        }
        // A version 2 checkpoint cut at its position is refused, not read as position 0.
        machine.position = 300
        var cut = machine.checkpoint().encoded()
        cut.removeLast()
        #expect(throws: CheckpointError.self) { try WindowCheckpoint(decoding: cut) }
    }

    @Test("a run restarted after every few hundred records still gives the uninterrupted output")
    func restartOften() throws {
        let stream = MixedStream.scenarios[0]
        let records = stream.records()
        let (a, expected) = Self.uninterrupted(records, stream.configuration)
        var b = Machine(configuration: stream.configuration)
        var events: [StageEvent] = []
        for (i, r) in records.enumerated() {
            if i % 271 == 0 { b = try Self.restarted(b) }
            b.record(r, into: &events)
        }
        b.inputFinished(into: &events)
        #expect(firstDifference(rendered(expected), rendered(events)) == nil)
        #expect(b.late == a.late)
    }

    @Test("windows stored after the checkpoint are skipped, and replaying the input since the checkpoint restores the rest",
          arguments: MixedStream.scenarios.prefix(3))
    func skipStoredThenReplay(stream: MixedStream) throws {
        let records = stream.records()
        let expected = renderedOutputs(Self.uninterrupted(records, stream.configuration).1)
        var random = SeededRandom(seed: stream.seed &* 977)
        for _ in 0..<6 {
            let checkpointAt = Int(random.next() % UInt64(records.count))
            let crashAt = checkpointAt + Int(random.next() % UInt64(records.count - checkpointAt + 1))
            // The run that crashes: what it emitted before the crash is stored.
            var crashed = Machine(configuration: stream.configuration)
            var before: [StageEvent] = [], stored: [StageEvent] = []
            for r in records[..<checkpointAt] { crashed.record(r, into: &before) }
            let checkpoint = try WindowCheckpoint(decoding: crashed.checkpoint().encoded())
            for r in records[checkpointAt..<crashAt] { crashed.record(r, into: &stored) }
            let storedWindows = stored.compactMap(\.output)
            let lookupStart = checkpoint.earliestOpenWindowStart ?? Timestamp(microseconds: .min)
            #expect(storedWindows.allSatisfy { windowStart($0).map { $0 >= lookupStart } ?? true },
                    "every window closed since the checkpoint starts at or after earliestOpenWindowStart")
            // The restart: resume, skip what is stored, replay the input since the checkpoint.
            var resumed = try Machine(configuration: stream.configuration, resuming: checkpoint)
            var after: [StageEvent] = []
            resumed.skipStored(storedWindows, into: &after)
            for r in records[checkpointAt...] { resumed.record(r, into: &after) }
            resumed.inputFinished(into: &after)
            let all = renderedOutputs(before) + renderedOutputs(stored) + renderedOutputs(after)
            let identities = (before + stored + after).compactMap(\.output).compactMap(windowIdentity)
            #expect(Set(identities).count == identities.count, "checkpoint \(checkpointAt), crash \(crashAt): a window emitted twice")
            let difference = firstDifference(expected, all)
            #expect(difference == nil, "checkpoint \(checkpointAt), crash \(crashAt): \(difference ?? "")")
        }
    }

    @Test("with the input since the checkpoint lost, a restart stores no window twice and loses nothing the checkpoint held",
          arguments: MixedStream.scenarios.prefix(3))
    func skipStoredWithoutReplay(stream: MixedStream) throws {
        let records = stream.records()
        var random = SeededRandom(seed: stream.seed &* 7_919)
        for _ in 0..<6 {
            let checkpointAt = Int(random.next() % UInt64(records.count))
            let crashAt = checkpointAt + Int(random.next() % UInt64(records.count - checkpointAt + 1))
            var crashed = Machine(configuration: stream.configuration)
            var before: [StageEvent] = [], stored: [StageEvent] = []
            for r in records[..<checkpointAt] { crashed.record(r, into: &before) }
            let checkpoint = try WindowCheckpoint(decoding: crashed.checkpoint().encoded())
            for r in records[checkpointAt..<crashAt] { crashed.record(r, into: &stored) }
            var resumed = try Machine(configuration: stream.configuration, resuming: checkpoint)
            let checkpointed = Set(resumed.openSummaries().compactMap(windowIdentity))
            var after: [StageEvent] = []
            resumed.skipStored(stored.compactMap(\.output), into: &after)
            for r in records[crashAt...] { resumed.record(r, into: &after) }
            resumed.inputFinished(into: &after)
            let identities = (before + stored + after).compactMap(\.output).compactMap(windowIdentity)
            #expect(Set(identities).count == identities.count, "checkpoint \(checkpointAt), crash \(crashAt): a window emitted twice")
            #expect(checkpointed.isSubset(of: Set(identities)), "checkpoint \(checkpointAt), crash \(crashAt): a checkpointed window was lost")
        }
    }

    @Test("a window stored only in part fires the rest at once, and records for it are late from then on")
    func partlyStored() throws {
        var machine = Machine(configuration: .init(windows: [.minutes(1), .minutes(5)], lateness: .zero))
        var events: [StageEvent] = []
        machine.record(Self.metric(10, 1, name: "a"), into: &events)
        machine.record(Self.metric(20, 2, name: "b"), into: &events)
        let checkpoint = machine.checkpoint()
        #expect(checkpoint.earliestOpenWindowStart == Timestamp(microseconds: MixedStream.base))
        machine.record(Self.metric(61, 3, name: "a"), into: &events)
        let closed = events.compactMap(\.output)
        #expect(closed.count == 2)
        // The crash came after only the first of the two was stored.
        var resumed = try Machine(configuration: machine.configuration, resuming: checkpoint)
        var after: [StageEvent] = []
        resumed.skipStored([closed[0]], into: &after)
        #expect(after.compactMap(\.output) == [closed[1]])
        resumed.record(Self.metric(30, 4, name: "a"), into: &after)
        #expect(resumed.late == 1)
        #expect(resumed.lateByWindow == [1, 0])
        resumed.inputFinished(into: &after)
        let fiveMinutes = after.compactMap(\.output).compactMap { if case .window(let w) = $0, w.span.length == .minutes(5) { w } else { nil } }
        #expect(fiveMinutes.map(\.series.name) == ["a", "b"], "the longer window was not stored: it still holds both series")
        #expect(fiveMinutes.first?.count == 2, "the five-minute window holds the checkpointed record and the one at 30 s")
    }

    @Test("a fresh machine has nothing to look up in the store")
    func nothingToLookUp() {
        #expect(Machine(configuration: .init()).earliestOpenWindowStart == nil)
        #expect(Machine(configuration: .init()).checkpoint().earliestOpenWindowStart == nil)
    }

    @Test("a checkpoint resumes with a new lateness")
    func newLateness() throws {
        var machine = Machine(configuration: .init(windows: [.minutes(1)], lateness: .minutes(1)))
        var events: [StageEvent] = []
        machine.record(Self.metric(10, 1), into: &events)
        machine.record(Self.metric(70, 1), into: &events)
        #expect(events.compactMap(\.output).isEmpty)
        var resumed = try Self.restarted(machine, configuration: .init(windows: [.minutes(1)], lateness: .zero))
        resumed.record(Self.metric(71, 1), into: &events)
        #expect(events.compactMap(\.output).count == 1, "with no lateness the first minute closes at 71 s")
    }

    @Test("a checkpoint taken with other window lengths is refused, naming both; its own configuration flushes it")
    func otherWindows() throws {
        var machine = Machine(configuration: .init(windows: [.minutes(1), .minutes(5)]))
        var events: [StageEvent] = []
        machine.record(Self.metric(10, 1), into: &events)
        let checkpoint = try WindowCheckpoint(decoding: machine.checkpoint().encoded())
        do {
            _ = try Machine(configuration: .init(windows: [.minutes(1), .minutes(10)]), resuming: checkpoint)
            Issue.record("resumed with other window lengths")
        } catch {
            #expect(error.isWindowMismatch)
            #expect(error.message.contains("[1m, 5m]"))
            #expect(error.message.contains("[1m, 10m]"))
        }
        var flush = try Machine(configuration: checkpoint.configuration, resuming: checkpoint)
        var flushed: [StageEvent] = []
        flush.inputFinished(into: &flushed)
        #expect(flushed.compactMap(\.output).count == 2)
    }
}

private func windowStart(_ record: OutputRecord) -> Timestamp? {
    switch record {
    case .window(let w): w.span.start
    case .cacheWindow(let w): w.span.start
    case .visitsWindow(let w): w.span.start
    default: nil
    }
}
