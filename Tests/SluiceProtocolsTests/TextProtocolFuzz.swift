import SluiceModel

/// Seeded mutations of valid text-protocol messages for the Influx and StatsD fuzz runs: the
/// same inputs on every run, so a failure can be replayed.
enum TextProtocolFuzz {
    /// One input made from `seeds`: a bit flip, a byte from `alphabet` (a protocol's separators
    /// and escapes) put in, a truncation, a splice of two seeds, a repeated range, random bytes,
    /// or several of these at once.
    static func mutate(_ seeds: [[UInt8]], _ random: inout SeededRandom, alphabet: [UInt8]) -> [UInt8] {
        var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
        let rounds = 1 + Int(random.next() % 4)
        for _ in 0..<rounds {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 7 {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8(1) << UInt8(random.next() % 8)
            case 1 where !bytes.isEmpty:
                bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
            case 2:
                bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
            case 3:
                bytes = Array(bytes.prefix(position))
            case 4:
                let other = seeds[Int(random.next() % UInt64(seeds.count))]
                let cut = other.isEmpty ? 0 : Int(random.next() % UInt64(other.count))
                bytes = Array(bytes.prefix(position)) + other[cut...]
            case 5 where !bytes.isEmpty:
                let length = Int(random.next() % 16)
                let end = min(bytes.count, position + length)
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default:
                let length = Int(random.next() % 32)
                bytes.insert(contentsOf: (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: position)
            }
        }
        return bytes
    }
}
