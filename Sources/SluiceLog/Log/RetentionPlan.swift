/// What retention should delete from one log: a pure decision over segment summaries, kept apart from
/// the file operations so that it can be tested alone.
public struct RetentionPlan: Equatable, Sendable {
    /// The parts of a segment that retention looks at.
    public struct SegmentSummary: Equatable, Sendable {
        public var baseOffset: Int64
        public var nextOffset: Int64
        public var size: Int64
        /// -1 for an empty segment.
        public var maxTimestamp: Int64

        public init(baseOffset: Int64, nextOffset: Int64, size: Int64, maxTimestamp: Int64) {
            self.baseOffset = baseOffset
            self.nextOffset = nextOffset
            self.size = size
            self.maxTimestamp = maxTimestamp
        }
    }

    /// How many segments to delete, from the oldest.
    public var deleteCount: Int
    /// Whether the active segment must be rolled first because it is among those deleted.
    public var rollActive: Bool
    /// Records not yet consumed by some group that the deletion skips (when groups do not hold it back).
    public var unconsumedSkipped: Int64
    /// Segments that retention wanted to delete but a consumer group still needs.
    public var heldBackByGroups: Int

    /// Decides what to delete. `segments` are in order, the last one active. `keepFrom` is the lowest
    /// offset a consumer group with commits on this log still needs; with `respectGroups` no segment
    /// holding an offset at or after it is deleted.
    public static func make(
        segments: [SegmentSummary],
        retentionMs: Int64,
        retentionBytes: Int64,
        now: Int64,
        keepFrom: Int64?,
        respectGroups: Bool
    ) -> RetentionPlan {
        guard let active = segments.last else {
            return RetentionPlan(deleteCount: 0, rollActive: false, unconsumedSkipped: 0, heldBackByGroups: 0)
        }
        var byTime = 0
        if retentionMs >= 0 {
            for segment in segments {
                guard segment.size > 0, RollPolicy.age(now, since: segment.maxTimestamp) > retentionMs else { break }
                byTime += 1
            }
        }
        var bySize = 0
        if retentionBytes >= 0 {
            var excess = segments.reduce(0) { $0 + $1.size } - retentionBytes
            for segment in segments.dropLast() {
                guard excess - segment.size >= 0 else { break }
                excess -= segment.size
                bySize += 1
            }
        }
        var count = max(byTime, bySize)
        var heldBack = 0
        if let keepFrom, respectGroups {
            var allowed = 0
            while allowed < count && segments[allowed].nextOffset <= keepFrom { allowed += 1 }
            heldBack = count - allowed
            count = allowed
        }
        var skipped: Int64 = 0
        if let keepFrom, count > 0 {
            skipped = max(0, segments[count - 1].nextOffset - max(keepFrom, segments[0].baseOffset))
        }
        let rollActive = count == segments.count && active.size > 0
        if count == segments.count && !rollActive { count -= 1 }
        return RetentionPlan(
            deleteCount: count, rollActive: rollActive, unconsumedSkipped: skipped, heldBackByGroups: heldBack)
    }
}

/// Whether to roll the active segment before an append: a pure decision.
public enum RollPolicy {
    /// The largest segment the indexes can address: they store byte positions as uint32.
    public static let maxSegmentBytes = Int64(UInt32.max)

    /// A segment is full when the batch would take it past `segmentBytes` (or `maxSegmentBytes`). It is
    /// old when its first batch's timestamp (`rollTimestamp`) is more than `segmentMs` before both `now`
    /// and the timestamp of the batch being appended: by the clock alone, records with old timestamps
    /// (a replay, a backfill) would roll a new segment for every batch.
    public static func shouldRoll(
        activeSize: Int64,
        rollTimestamp: Int64?,
        batchSize: Int,
        batchTimestamp: Int64,
        now: Int64,
        segmentBytes: Int64,
        segmentMs: Int64
    ) -> Bool {
        guard activeSize > 0 else { return false }
        if activeSize + Int64(batchSize) > min(segmentBytes, maxSegmentBytes) { return true }
        if let rollTimestamp, segmentMs >= 0, age(now, since: rollTimestamp) > segmentMs,
            age(batchTimestamp, since: rollTimestamp) > segmentMs
        {
            return true
        }
        return false
    }

    /// `time - start`, saturating: timestamps come from records and may be anything.
    static func age(_ time: Int64, since start: Int64) -> Int64 {
        let (difference, overflow) = time.subtractingReportingOverflow(start)
        guard overflow else { return difference }
        return time > start ? Int64.max : Int64.min
    }
}
