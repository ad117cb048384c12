import SluiceModel

/// Rewrites a segment's blocks into as few blocks as fit `maximumRecords` each, with each
/// series' records together: the writer flushes small blocks for durability (every second),
/// and long runs of one series compress far better.
struct SegmentCompactor {
    let maximumRecords: Int
    let level: Int32

    /// The compacted frames of `segment`, or `nil` when there is nothing to gain.
    func compactedFrames(_ segment: SegmentFile) throws(StoreError) -> [[UInt8]]? {
        let scan = try segment.scan(verify: false)
        guard scan.damage == nil, scan.blocks.count > 1 else { return nil }
        var frames: [[UInt8]] = []
        var builder = BlockBuilder()
        for block in scan.blocks {
            let frame = try FileIO.readFrame(segment, block)
            guard BlockFrame.checksumMatches(frame, block.header) else {
                throw .corrupt("\(segment.path): block at offset \(block.offset) fails its checksum")
            }
            for group in try BlockFrame.groups(frame, block.header, version: block.version) { builder.append(group) }
            builder.receipts += block.summary.receipts
            if builder.count >= maximumRecords {
                frames.append(try BlockFrame.build(&builder, level: level).bytes)
                builder.reset()
            }
        }
        if !builder.isEmpty { frames.append(try BlockFrame.build(&builder, level: level).bytes) }
        return frames
    }
}
