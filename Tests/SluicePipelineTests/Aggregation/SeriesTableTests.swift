import Testing
import SluiceModel
@testable import SluicePipeline

@Suite("Series table")
struct SeriesTableTests {
    /// Random adds, in-place updates, replacements and removals over sparse and dense numbers,
    /// checked after every step against a `Dictionary` doing the same.
    @Test("it holds what a dictionary holds, through adds, updates and removals", arguments: [1, 2, 3])
    func matchesDictionary(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var table = SeriesTable<[Int]>()
        var oracle: [Int32: [Int]] = [:]
        // Mostly low numbers, now and then a high one, so the position array grows in jumps.
        func number() -> Int32 { random.next() % 8 == 0 ? Int32(random.next() % 5_000) : Int32(random.next() % 64) }
        for step in 0..<20_000 {
            let id = number()
            switch random.next() % 5 {
            case 0, 1:
                table[id, default: []].append(step)
                oracle[id, default: []].append(step)
            case 2:
                #expect(table.updateValue([step], forKey: id) == oracle.updateValue([step], forKey: id))
            case 3:
                table[id] = nil
                oracle[id] = nil
            default:
                #expect(table[id] == oracle[id])
                #expect(table[id, default: [-1]] == oracle[id, default: [-1]])
            }
            #expect(table.count == oracle.count)
        }
        #expect(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0.value) }) == oracle)
        #expect(table.keys.sorted() == oracle.keys.sorted())
        for id in oracle.keys { #expect(table[id] == oracle[id]) }
        #expect(table[-1] == nil && table[1_000_000] == nil)
    }
}
