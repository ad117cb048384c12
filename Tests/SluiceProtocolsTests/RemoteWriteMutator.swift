import SluiceModel

/// Seeded, deterministic mutations of valid messages for the snappy and remote-write fuzz
/// runs: bit flips, truncations, splices with another message, inserted and deleted runs,
/// and bytes that stress length fields (0, 0x7F, 0x80, 0xFF, a 32-bit varint).
struct RemoteWriteMutator {
    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(random.next() % UInt64(n)) }

    /// One to three mutations of `seed`; `corpus` gives the other halves of splices.
    mutating func mutate(_ seed: [UInt8], corpus: [[UInt8]]) -> [UInt8] {
        var bytes = seed
        for _ in 0...below(3) {
            switch below(7) {
            case 0 where !bytes.isEmpty:
                bytes[below(bytes.count)] ^= 1 << UInt8(below(8))
            case 1:
                bytes = Array(bytes.prefix(below(bytes.count + 1)))
            case 2 where !bytes.isEmpty:
                bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
            case 3:
                let other = corpus[below(corpus.count)]
                bytes = Array(bytes.prefix(below(bytes.count + 1)) + other.suffix(below(other.count + 1)))
            case 4:
                let insert = (0...below(16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                bytes.insert(contentsOf: insert, at: below(bytes.count + 1))
            case 5 where !bytes.isEmpty:
                let start = below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + below(32)))
            default:
                let interesting: [[UInt8]] = [[0], [0x7F], [0x80], [0xFF], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]]
                let run = interesting[below(interesting.count)]
                let at = below(bytes.count + 1)
                bytes.replaceSubrange(at..<min(bytes.count, at + run.count), with: run)
            }
        }
        return bytes
    }
}
