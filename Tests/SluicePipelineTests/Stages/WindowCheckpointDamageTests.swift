import Testing
import SluiceModel
@testable import SluicePipeline

@Suite("Window checkpoint damage")
struct WindowCheckpointDamageTests {
    /// A checkpoint of a few hundred mixed records: every kind of pane entry, a few kilobytes.
    static let bytes: [UInt8] = {
        let stream = MixedStream.scenarios[0]
        var machine = WindowAggregator.StateMachine(configuration: stream.configuration)
        var events: [StageEvent] = []
        for r in stream.records().prefix(250) { machine.record(r, into: &events) }
        return machine.checkpoint().encoded()
    }()

    static func decodeError(_ bytes: [UInt8]) -> CheckpointError? {
        do {
            _ = try WindowCheckpoint(decoding: bytes)
            return nil
        } catch {
            return error
        }
    }

    /// The same bytes with the payload's checksum recomputed: damage the checksum cannot see.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var w = BinaryWriter()
        w.u32(CRC32C.checksum(Array(bytes[WindowCheckpoint.headerSize...])))
        var out = bytes
        out.replaceSubrange(17..<21, with: w.bytes)
        return out
    }

    @Test("the checkpoint under test holds open windows of every kind")
    func fixture() throws {
        let checkpoint = try WindowCheckpoint(decoding: Self.bytes)
        let panes = checkpoint.openWindows.flatMap { $0.map(\.pane) }
        #expect(panes.contains { !$0.metrics.isEmpty } && panes.contains { !$0.caches.isEmpty } && panes.contains { !$0.visits.isEmpty })
    }

    @Test("every truncation of a checkpoint is refused as cut short")
    func truncations() {
        var accepted: [Int] = []
        var misnamed: [Int] = []
        for n in 0..<Self.bytes.count {
            guard let error = Self.decodeError(Array(Self.bytes.prefix(n))) else { accepted.append(n); continue }
            if !(error.isCorrupt && error.message.contains("truncated")) { misnamed.append(n) }
        }
        #expect(accepted.isEmpty, "decoded although cut to \(accepted.prefix(5)) bytes")
        #expect(misnamed.isEmpty, "cut to \(misnamed.prefix(5)) bytes but not reported as truncated")
        #expect(Self.decodeError(Self.bytes + [0]) != nil, "a byte too many is refused too")
        var endless = Self.bytes
        endless.replaceSubrange(9..<17, with: repeatElement(0xFF, count: 8))  // the payload length
        #expect(Self.decodeError(endless)?.message.contains("truncated") == true)
    }

    @Test("every single-byte change to the header, and a sample in the payload, is refused")
    func corruptions() {
        var positions = Array(0..<WindowCheckpoint.headerSize)
        var random = SeededRandom(seed: 5)
        for _ in 0..<300 { positions.append(WindowCheckpoint.headerSize + Int(random.next() % UInt64(Self.bytes.count - WindowCheckpoint.headerSize))) }
        var accepted: [(Int, UInt8)] = []
        for position in positions {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = Self.bytes
                damaged[position] ^= flip
                if Self.decodeError(damaged) == nil { accepted.append((position, flip)) }
            }
        }
        #expect(accepted.isEmpty, "decoded despite changes at \(accepted.prefix(5).map { "\($0.0) ^ \($0.1)" })")
    }

    @Test("what is wrong is named: not a checkpoint, another version, a failed checksum")
    func messages() {
        var other = Self.bytes
        other[0] = UInt8(ascii: "X")
        #expect(Self.decodeError(other)?.message.contains("not a window checkpoint") == true)
        #expect(Self.decodeError(Array("{\"type\":\"metric\"}".utf8))?.isCorrupt == true)
        var version = Self.bytes
        version[8] = 3
        let versionError = Self.decodeError(version)
        #expect(versionError?.isUnsupportedVersion == true)
        #expect(versionError?.message.contains("version 3") == true)
        var payload = Self.bytes
        payload[payload.count - 1] ^= 0x10
        #expect(Self.decodeError(payload)?.message.contains("checksum") == true)
    }

    @Test("impossible contents behind a valid checksum are refused (no window lengths)")
    func impossibleContents() {
        var damaged = Self.bytes
        damaged[WindowCheckpoint.headerSize] = 0  // the number of window lengths
        let error = Self.decodeError(Self.resealed(damaged))
        #expect(error?.isCorrupt == true)
        #expect(error?.message.contains("no window lengths") == true)
    }

    @Test("damaged contents behind a valid checksum are refused or resume and run, never trap")
    func resealedDamage() throws {
        let stream = MixedStream.scenarios[0]
        let more = Array(stream.records()[250..<350])
        var random = SeededRandom(seed: 17)
        var decoded = 0
        for _ in 0..<400 {
            var damaged = Self.bytes
            for _ in 0..<(1 + random.next() % 3) {
                let at = WindowCheckpoint.headerSize + Int(random.next() % UInt64(damaged.count - WindowCheckpoint.headerSize))
                damaged[at] = UInt8(truncatingIfNeeded: random.next())
            }
            guard let checkpoint = try? WindowCheckpoint(decoding: Self.resealed(damaged)) else { continue }
            decoded += 1
            var machine = try WindowAggregator.StateMachine(configuration: checkpoint.configuration, resuming: checkpoint)
            var events: [StageEvent] = []
            _ = machine.earliestOpenWindowStart
            _ = machine.openSummaries().map(\.ndjson)
            for r in more { machine.record(r, into: &events) }
            machine.inputFinished(into: &events)
            _ = renderedOutputs(events)
        }
        #expect(decoded > 0, "some damage (a value, not a structure) still decodes")
    }
}
