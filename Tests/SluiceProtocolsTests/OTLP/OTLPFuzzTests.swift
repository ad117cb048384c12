import SluiceModel
import SluicePipeline
import Testing
@testable import SluiceProtocols

/// A seeded, deterministic mutation run over the SDK's own request bodies: bit flips,
/// truncations, splices, random byte runs, duplicated and deleted spans. Every input must
/// either decode, with each refusal numbered inside the request, or fail whole with a
/// `ProtocolError`; none may crash.
@Suite("OTLP decoders under mutated input")
struct OTLPFuzzTests {
    static let inputsPerSeed = 1_500

    static let metricSeeds = ["metrics-delta", "metrics-cumulative-2", "metrics-bad"]

    @Test("metrics: mutated protobuf and JSON bodies decode or fail with a reason", arguments: [OTLPEncoding.protobuf, .json])
    func metrics(encoding: OTLPEncoding) {
        let seeds = Self.metricSeeds.map { OTLPFixtures.body($0 + (encoding == .protobuf ? ".pb" : ".json")) }
        let state = OTLPFixtures.freshState()
        let outcome = Self.run(seeds: seeds, seed: encoding == .protobuf ? 1 : 2) { bytes throws(ProtocolError) in
            try OTLPMetricsDecoder(state: state).decode(bytes, encoding: encoding, context: OTLPFixtures.context(tenant: "t"))
        }
        #expect(outcome.inputs == seeds.count * Self.inputsPerSeed)
        #expect(outcome.decoded > 0 && outcome.failed > 0, "the mutations reach both the decoder's refusals and its mapping")
    }

    @Test("traces: mutated protobuf and JSON bodies decode or fail with a reason", arguments: [OTLPEncoding.protobuf, .json])
    func traces(encoding: OTLPEncoding) {
        let seeds = [OTLPFixtures.body(encoding == .protobuf ? "traces.pb" : "traces.json")]
        let outcome = Self.run(seeds: seeds, seed: encoding == .protobuf ? 3 : 4) { bytes throws(ProtocolError) in
            try OTLPTracesDecoder.decode(bytes, encoding: encoding, context: OTLPFixtures.context(tenant: "t"))
        }
        #expect(outcome.inputs == seeds.count * Self.inputsPerSeed)
        #expect(outcome.decoded > 0 && outcome.failed > 0)
    }

    struct Outcome {
        var inputs = 0
        var decoded = 0
        var failed = 0
    }

    static func run(seeds: [[UInt8]], seed: UInt64, _ decode: (UnsafeBufferPointer<UInt8>) throws(ProtocolError) -> OTLPDecoded) -> Outcome {
        var random = SeededRandom(seed: seed)
        var outcome = Outcome()
        for original in seeds {
            for _ in 0..<inputsPerSeed {
                let input = mutate(original, others: seeds, &random)
                outcome.inputs += 1
                do throws(ProtocolError) {
                    let result = try input.withUnsafeBufferPointer { buffer throws(ProtocolError) in try decode(buffer) }
                    outcome.decoded += 1
                    #expect(result.batch.rejections.count + result.skipped <= result.items)
                    #expect(result.batch.rejections.allSatisfy { (1...result.items).contains($0.line) && !$0.error.message.isEmpty })
                } catch {
                    outcome.failed += 1
                    #expect(!error.message.isEmpty)
                }
            }
        }
        return outcome
    }

    static func mutate(_ original: [UInt8], others: [[UInt8]], _ random: inout SeededRandom) -> [UInt8] {
        var bytes = original
        for _ in 0...Int(random.next() % 3) {
            guard !bytes.isEmpty else { break }
            let at = Int(random.next() % UInt64(bytes.count))
            switch random.next() % 6 {
            case 0: // flip one to eight bits
                for _ in 0...Int(random.next() % 8) {
                    let i = Int(random.next() % UInt64(bytes.count))
                    bytes[i] ^= 1 << UInt8(random.next() % 8)
                }
            case 1: // truncate
                bytes.removeSubrange(at...)
            case 2: // splice another seed's tail onto this one's head
                let other = others[Int(random.next() % UInt64(others.count))]
                bytes = Array(bytes[..<at]) + other[Int(random.next() % UInt64(max(1, other.count)))...]
            case 3: // insert a run of random bytes
                let run = (0..<Int(random.next() % 16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                bytes.insert(contentsOf: run, at: at)
            case 4: // duplicate a span
                let end = min(bytes.count, at + Int(random.next() % 64))
                bytes.insert(contentsOf: bytes[at..<end], at: end)
            default: // delete a span
                bytes.removeSubrange(at..<min(bytes.count, at + Int(random.next() % 32)))
            }
        }
        return bytes
    }
}
