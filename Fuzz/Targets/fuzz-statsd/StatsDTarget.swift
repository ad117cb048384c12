import FuzzCheck
import SluiceModel
import SluicePipeline
import SluiceProtocols

/// StatsD and DogStatsD datagrams, through the listeners' shared state. The first byte picks
/// how many of the following datagrams (split at `\0`) arrive before a flush, so gauges and
/// sets meet earlier lines.
///
/// Properties, besides not crashing: records carry finite values, non-empty names and valid
/// tenants; every refusal names a line of its datagram; flushing twice gives nothing new.
@main
enum StatsDFuzz {
    static func main() { runFuzzer(fuzzStatsD) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStatsD(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, input) = selector(data, size)
    var state = StatsDState(configuration: .init(tenantID: choice & 0x80 == 0 ? nil : "site-a", setInterval: .seconds(10),
                                                 maximumLabels: 8, maximumLineBytes: 4096, maximumSeries: 64))
    var now = Timestamp(microseconds: 1_764_000_000_000_000)
    let flushEvery = Int(choice & 0x7) + 1
    var start = 0
    var count = 0
    for end in input.indices where input[end] == 0 || end == input.count - 1 {
        let stop = input[end] == 0 ? end : end + 1
        let datagram = UnsafeBufferPointer(rebasing: input[start..<stop])
        let received = state.receive(datagram: datagram, now: now)
        let lines = datagram.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        checkBatch(received.batch, items: lines, datagram)
        start = end + 1
        count += 1
        if count % flushEvery == 0 {
            now = now + .seconds(11)
            check(state.flush(through: now), input)
            guard state.flush(through: now).isEmpty else { violated("a second flush gave records", input) }
        }
    }
    check(state.finish(), input)
    return 0
}

private func check(_ records: [Record], _ input: UnsafeBufferPointer<UInt8>) {
    var batch = DecodedBatch()
    for r in records { batch.append(r) }
    checkBatch(batch, items: nil, input)
}
