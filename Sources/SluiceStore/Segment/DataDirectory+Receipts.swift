import SluicePipeline
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DataDirectory {
    /// The receipts of keyed requests taken since `since` (µs, wall clock), from the block
    /// summaries of every segment changed since then: what `IdempotencyKeys.restore` needs
    /// after a restart. Only headers and summaries are read. Call after
    /// `recoverOpenSegments`, so a torn block's receipt is gone with its records.
    public func receipts(since: Int64) throws(StoreError) -> [IngestReceipt] {
        var receipts: [IngestReceipt] = []
        for segment in try segments() {
            // A receipt is written with its block, and a file changes only by gaining blocks or
            // being rewritten whole: a segment unchanged since before `since` holds none newer.
            var st = stat()
            if stat(segment.path, &st) == 0, Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1_000 < since - 1_000_000 { continue }
            for block in try segment.scan(verify: false).blocks {
                receipts += block.summary.receipts.filter { $0.time >= since }
            }
        }
        return receipts
    }
}
