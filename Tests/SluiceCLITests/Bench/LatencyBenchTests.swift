import Testing
@testable import SluiceCLI

@Suite("Latency benchmark")
struct LatencyBenchTests {
    @Test("each line's latency runs from the first read that holds it to the first aggregation that covers it")
    func matchesLinesToTheirReadAndEffect() {
        let t0 = ContinuousClock.now
        func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }
        // Reads: lines 0-3 at 0 ms, 4-9 at 10 ms. Effects: lines 0-1 at 2 ms, 2-7 at 13 ms, 8-9 at 40 ms.
        let result = LatencyBench.match(
            reads: [(4, at(0)), (10, at(10))],
            effects: [(2, at(2)), (8, at(13)), (10, at(40))],
            lines: 10)
        // Per line: 2, 2, 13, 13, 3, 3, 3, 3, 30, 30 ms; sorted: 2 2 3 3 3 3 13 13 30 30.
        #expect(result.lines == 10)
        #expect(result.p50 == .milliseconds(3))
        #expect(result.p99 == .milliseconds(30))
        #expect(result.maximum == .milliseconds(30))
        #expect(result.fedRate == 600)  // 6 lines in the 10 ms between the first and last read
    }

    @Test("lines the logs do not cover are left out, not counted as zero")
    func partialLogs() {
        let t0 = ContinuousClock.now
        let result = LatencyBench.match(reads: [(3, t0)], effects: [(2, t0 + .milliseconds(5))], lines: 5)
        #expect(result.lines == 2)
        #expect(result.p50 == .milliseconds(5))
    }
}
