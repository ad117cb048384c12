import SluiceModel

extension RetentionPruner {
    /// What a prune removes, decided once from the sealed segments as they are: a dry run
    /// reports it, a real run carries out its steps.
    struct Plan {
        /// How much of one segment goes. Each cut includes the ones before it.
        enum Cut: Sendable, Comparable {
            /// Expired records.
            case expired
            /// Everything but unexpired token usage: the size cap's first resort.
            case allButTokenUsage
            /// Everything: the size cap's last resort.
            case everything
        }

        /// One segment to rewrite, or to delete when nothing is left of it.
        struct Step {
            var segment: SegmentFile
            var scan: SegmentFile.Scan
            var cut: Cut
        }

        var steps: [Step] = []
        /// What carrying out the steps removes.
        var report = Report()

        /// Whether the plan removes more than half the stored bytes.
        var isMassDelete: Bool { (report.bytesBefore - report.bytesAfter) * 2 > report.bytesBefore }
    }

    /// One segment without what a cut removes: its blocks as they would be written (a block
    /// that loses every record is left out), and what goes.
    struct Outcome {
        enum Block {
            case unchanged(SegmentFile.Block)
            case rebuilt([UInt8])
        }

        var blocks: [Block] = []
        var removed: [Report.Key: (records: Int, bytes: Int)] = [:]
        var changed = false

        var size: Int {
            guard !blocks.isEmpty else { return 0 }
            return blocks.reduce(SegmentFile.headerBytes) { total, block in
                switch block {
                case .unchanged(let b): total + b.length
                case .rebuilt(let bytes): total + bytes.count
                }
            }
        }
    }

    /// A sealed segment while it is planned for: its size as the plan leaves it.
    private struct Candidate {
        var segment: SegmentFile
        /// `nil` for a damaged or unreadable segment, which retention never touches.
        var scan: SegmentFile.Scan?
        var size: Int
        var cut: Plan.Cut?
        var removed: [Report.Key: (records: Int, bytes: Int)] = [:]

        /// Takes a cut, measured from the segment as it is on disk, unless it removes nothing.
        mutating func take(_ cut: Plan.Cut, _ outcome: Outcome) {
            guard outcome.changed else { return }
            self.cut = cut
            size = outcome.size
            removed = outcome.removed
        }
    }

    /// Plans a prune as of `now`.
    func plan(now: Timestamp) throws(StoreError) -> Plan {
        let segments = try directory.segments()
        let openBytes = segments.filter { !$0.sealed }.reduce(0) { $0 + (FileIO.size(path: $1.path) ?? 0) }
        var candidates = segments.filter(\.sealed).map { segment in
            let scan = try? segment.scan(verify: false)
            return Candidate(segment: segment, scan: scan?.damage == nil ? scan : nil, size: FileIO.size(path: segment.path) ?? 0)
        }
        var plan = Plan()
        plan.report.bytesBefore = candidates.reduce(openBytes) { $0 + $1.size }

        // 1. Age.
        for i in candidates.indices {
            guard let scan = candidates[i].scan, scan.blocks.contains(where: { mayRemove($0, .expired, now: now) }) else { continue }
            candidates[i].take(.expired, try cutting(candidates[i].segment, scan, .expired, now: now))
        }

        // 2. Size: past the cap less one segment, prune the oldest down to the cap less two, so
        // the writer's next segment still fits under it.
        let trigger = Int(policy.maxBytes) - segmentBytes
        let target = Int(policy.maxBytes) - 2 * segmentBytes
        var total = candidates.reduce(openBytes) { $0 + $1.size }
        if total > trigger {
            pass: for cut in [Plan.Cut.allButTokenUsage, .everything] {
                for i in candidates.indices {
                    guard total > target else { break pass }
                    guard candidates[i].size > 0, let scan = candidates[i].scan, candidates[i].cut.map({ $0 < cut }) ?? true else { continue }
                    let before = candidates[i].size
                    candidates[i].take(cut, try cutting(candidates[i].segment, scan, cut, now: now))
                    total += candidates[i].size - before
                }
            }
        }

        for candidate in candidates {
            guard let cut = candidate.cut, let scan = candidate.scan else { continue }
            plan.steps.append(.init(segment: candidate.segment, scan: scan, cut: cut))
            plan.report.add(candidate.removed)
            if candidate.size == 0 {
                plan.report.deletedSegments.append(candidate.segment.name)
            } else {
                plan.report.rewrittenSegments.append(candidate.segment.name)
            }
        }
        plan.report.bytesAfter = total
        return plan
    }

    /// The segment without the records `cut` removes. Each removed record's share of its
    /// block's bytes is counted against its type and tenant.
    func cutting(_ segment: SegmentFile, _ scan: SegmentFile.Scan, _ cut: Plan.Cut, now: Timestamp) throws(StoreError) -> Outcome {
        var outcome = Outcome()
        // The rewritten file is in today's format: blocks of an older one are re-encoded.
        let current = scan.version == SegmentFile.version
        for block in scan.blocks {
            guard mayRemove(block, cut, now: now) || !current else {
                outcome.blocks.append(.unchanged(block))
                continue
            }
            let records = try segment.records(blocks: [block])
            let kept = records.filter { !removes($0, cut, now: now) }
            guard kept.count < records.count else {
                if current {
                    outcome.blocks.append(.unchanged(block))
                } else {
                    outcome.blocks.append(.rebuilt(try BlockFrame.build(kept, receipts: block.summary.receipts, level: compressionLevel).bytes))
                }
                continue
            }
            outcome.changed = true
            var counts: [Report.Key: Int] = [:]
            for r in records where removes(r, cut, now: now) {
                let reason = isExpired(r, now: now) ? "max_age" : "max_bytes"
                counts[Report.Key(type: r.kind.typeName, tenantID: r.tenantID, reason: reason), default: 0] += 1
            }
            let perRecord = Double(block.length) / Double(records.count)
            for (key, n) in counts {
                let old = outcome.removed[key] ?? (0, 0)
                outcome.removed[key] = (old.records + n, old.bytes + Int((perRecord * Double(n)).rounded()))
            }
            // A receipt goes with the block that held its records; when retention removes all
            // of them, a retry of that request would be ingested again (and be as expired).
            if !kept.isEmpty {
                outcome.blocks.append(.rebuilt(try BlockFrame.build(kept, receipts: block.summary.receipts, level: compressionLevel).bytes))
            }
        }
        return outcome
    }

    /// Whether `cut` removes this record.
    func removes(_ r: StoredRecord, _ cut: Plan.Cut, now: Timestamp) -> Bool {
        switch cut {
        case .expired: isExpired(r, now: now)
        case .allButTokenUsage: r.kind != .tokenUsage || isExpired(r, now: now)
        case .everything: true
        }
    }

    /// Whether `cut` may remove anything from a block, from its summary alone (an entry's
    /// oldest record is the first of its group to expire).
    func mayRemove(_ block: SegmentFile.Block, _ cut: Plan.Cut, now: Timestamp) -> Bool {
        block.summary.entries.contains { entry in
            let expired = policy.isExpired(entry.kind, tenant: entry.tenantID, time: entry.minTime, now: now)
            switch cut {
            case .expired: return expired
            case .allButTokenUsage: return entry.kind != .tokenUsage || expired
            case .everything: return true
            }
        }
    }
}
