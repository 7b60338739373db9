import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

/// Retention: the pure plan, and the log deleting whole closed segments by it.
@Suite struct RetentionTests {
    typealias Summary = RetentionPlan.SegmentSummary

    /// Three closed segments of 100 bytes (offsets 0–9, 10–19, 20–29, newest records at 1000, 2000,
    /// 3000) and an active one of 50 bytes (30–34, newest at 3500).
    static let segments = [
        Summary(baseOffset: 0, nextOffset: 10, size: 100, maxTimestamp: 1_000),
        Summary(baseOffset: 10, nextOffset: 20, size: 100, maxTimestamp: 2_000),
        Summary(baseOffset: 20, nextOffset: 30, size: 100, maxTimestamp: 3_000),
        Summary(baseOffset: 30, nextOffset: 35, size: 50, maxTimestamp: 3_500),
    ]

    static func plan(
        _ segments: [Summary] = segments,
        ms: Int64 = -1,
        bytes: Int64 = -1,
        now: Int64 = 3_600,
        keepFrom: Int64? = nil,
        respectGroups: Bool = true
    ) -> RetentionPlan {
        RetentionPlan.make(
            segments: segments,
            retentionMs: ms,
            retentionBytes: bytes,
            now: now,
            keepFrom: keepFrom,
            respectGroups: respectGroups
        )
    }

    static func expected(delete: Int, roll: Bool = false, skipped: Int64 = 0, heldBack: Int = 0) -> RetentionPlan {
        RetentionPlan(deleteCount: delete, rollActive: roll, unconsumedSkipped: skipped, heldBackByGroups: heldBack)
    }

    // MARK: The plan

    @Test func nothingToDelete() {
        #expect(Self.plan() == Self.expected(delete: 0))
        #expect(Self.plan([]) == Self.expected(delete: 0))
        #expect(Self.plan(ms: 100_000, bytes: 10_000) == Self.expected(delete: 0))
        let empty = [Summary(baseOffset: 7, nextOffset: 7, size: 0, maxTimestamp: -1)]
        #expect(Self.plan(empty, ms: 0, bytes: 0, now: .max) == Self.expected(delete: 0))
    }

    @Test func byTime() {
        // Strictly older than retention_ms: 3600 - 2000 = 1600 > 1000, 3600 - 3000 = 600 is not.
        #expect(Self.plan(ms: 1_000) == Self.expected(delete: 2))
        #expect(Self.plan(ms: 1_600) == Self.expected(delete: 1))
        #expect(Self.plan(ms: 2_600) == Self.expected(delete: 0))
        #expect(Self.plan(ms: 2_599) == Self.expected(delete: 1))
        // Oldest first: a newer segment past retention does not go while an older one stays.
        var mixed = Self.segments
        mixed[0].maxTimestamp = 3_400
        #expect(Self.plan(mixed, ms: 1_000) == Self.expected(delete: 0))
    }

    @Test func bySize() {
        // 350 bytes in all. As in Kafka, a segment goes only when the log is still at least
        // retention_bytes without it; the active segment never goes for size.
        #expect(Self.plan(bytes: 350) == Self.expected(delete: 0))
        #expect(Self.plan(bytes: 349) == Self.expected(delete: 0))
        #expect(Self.plan(bytes: 250) == Self.expected(delete: 1))
        #expect(Self.plan(bytes: 249) == Self.expected(delete: 1))
        #expect(Self.plan(bytes: 150) == Self.expected(delete: 2))
        #expect(Self.plan(bytes: 50) == Self.expected(delete: 3))
        #expect(Self.plan(bytes: 0) == Self.expected(delete: 3))
    }

    @Test func timeAndSizeTogetherTakeTheLarger() {
        #expect(Self.plan(ms: 2_599, bytes: 150) == Self.expected(delete: 2))
        #expect(Self.plan(ms: 1_000, bytes: 250) == Self.expected(delete: 2))
    }

    @Test func expiredActiveSegmentIsRolled() {
        #expect(Self.plan(ms: 1_000, now: 10_000) == Self.expected(delete: 4, roll: true))
        // An empty active segment has nothing to roll and stays.
        var segments = Self.segments
        segments[3] = Summary(baseOffset: 30, nextOffset: 30, size: 0, maxTimestamp: -1)
        #expect(Self.plan(segments, ms: 1_000, now: 10_000) == Self.expected(delete: 3))
    }

    @Test func groupsHoldSegmentsBack() {
        // A group still needs offset 15: segments from 10 on stay.
        #expect(Self.plan(ms: 1_000, now: 10_000, keepFrom: 15) == Self.expected(delete: 1, heldBack: 3))
        #expect(Self.plan(bytes: 0, keepFrom: 15) == Self.expected(delete: 1, heldBack: 2))
        #expect(Self.plan(bytes: 0, keepFrom: 10) == Self.expected(delete: 1, heldBack: 2))
        #expect(Self.plan(bytes: 0, keepFrom: 20) == Self.expected(delete: 2, heldBack: 1))
        #expect(Self.plan(bytes: 0, keepFrom: 0) == Self.expected(delete: 0, heldBack: 3))
        // A group that has consumed everything holds nothing back, the active segment included.
        #expect(Self.plan(ms: 1_000, now: 10_000, keepFrom: 35) == Self.expected(delete: 4, roll: true))
        #expect(Self.plan(ms: 1_000, keepFrom: 100) == Self.expected(delete: 2))
    }

    @Test func unconsumedRecordsAreCountedWhenGroupsDoNotHoldBack() {
        #expect(
            Self.plan(ms: 1_000, keepFrom: 15, respectGroups: false) == Self.expected(delete: 2, skipped: 5)
        )
        #expect(Self.plan(bytes: 0, keepFrom: 0, respectGroups: false) == Self.expected(delete: 3, skipped: 30))
        #expect(
            Self.plan(ms: 1_000, now: 10_000, keepFrom: 12, respectGroups: false)
                == Self.expected(delete: 4, roll: true, skipped: 23)
        )
        // Nothing unconsumed is lost when the group is past the deleted segments, or there is no group.
        #expect(Self.plan(ms: 1_000, keepFrom: 25, respectGroups: false) == Self.expected(delete: 2))
        #expect(Self.plan(ms: 1_000, keepFrom: nil, respectGroups: false) == Self.expected(delete: 2))
        // A group behind the log start counts only what is still there.
        var later = Self.segments
        later.removeFirst()
        #expect(Self.plan(later, bytes: 0, keepFrom: 3, respectGroups: false) == Self.expected(delete: 2, skipped: 20))
    }

    // MARK: The log

    /// A log of `count` batches, 10 apart in time, in segments of about 1000 bytes.
    static func makeLog(_ dir: TemporaryDirectory, count: Int = 60) throws -> (PartitionLog, [Record]) {
        var config = LogConfig()
        config.segmentBytes = 1_000
        config.indexIntervalBytes = 200
        let log = try PartitionLog.open(directory: dir.file("t-0"), config: config)
        var stored: [Record] = []
        for b in 0..<count {
            let time = 10_000 + Int64(b) * 10
            let records = LogTestSupport.records(1 + b % 3, tag: "b\(b)", timestamp: time)
            var batch = try LogTestSupport.batch(records)
            let result = try log.append(&batch, now: time)
            stored += LogTestSupport.stored(records, from: result.baseOffset)
        }
        return (log, stored)
    }

    @Test func applyRetentionDeletesWholeClosedSegmentsByTime() throws {
        let dir = TemporaryDirectory()
        let (log, records) = try Self.makeLog(dir)
        let before = log.segmentInfos
        #expect(before.count >= 4)
        var config = log.config
        config.retentionMs = 100
        log.update(config: config)
        // Everything in the first two segments is more than 100 ms older than `now`.
        let now = before[1].maxTimestamp + 101
        let result = try log.applyRetention(now: now, keepFrom: nil, respectGroups: true)
        #expect(result.deletedSegments == 2)
        #expect(result.deletedBytes == before[0].sizeInBytes + before[1].sizeInBytes)
        #expect(result.newStartOffset == before[2].baseOffset)
        #expect(result.unconsumedSkipped == 0)
        #expect(result.heldBackByGroups == 0)
        #expect(log.startOffset == before[2].baseOffset)
        #expect(log.segmentInfos == Array(before.dropFirst(2)))
        for info in before.prefix(2) {
            for ext in ["log", "index", "timeindex"] {
                #expect(!FileSystem.exists(LogTestSupport.segmentFile(log.directory, info.baseOffset, ext)))
            }
        }
        let error = try #require(throws: LogError.self) { try log.read(from: log.startOffset - 1, maxBytes: 100) }
        #expect(error.code == .offsetOutOfRange)
        let kept = records.filter { $0.offset >= before[2].baseOffset }
        #expect(try LogTestSupport.readAll(log) == kept)
        try log.close()

        let reopened = try PartitionLog.open(directory: log.directory, config: config)
        #expect(reopened.startOffset == before[2].baseOffset)
        #expect(try LogTestSupport.readAll(reopened) == kept)
    }

    @Test func applyRetentionBySizeAndGroups() throws {
        let dir = TemporaryDirectory()
        let (log, records) = try Self.makeLog(dir)
        let before = log.segmentInfos
        var config = log.config
        config.retentionMs = -1
        config.retentionBytes = before.last.map { $0.sizeInBytes + 1 } ?? 0
        log.update(config: config)

        // Size alone would delete every closed segment but the last: the log must stay above the limit.
        let n = before.count
        let keepFrom = before[1].baseOffset + 1
        let held = try log.applyRetention(now: 0, keepFrom: keepFrom, respectGroups: true)
        #expect(held.deletedSegments == 1)
        #expect(held.heldBackByGroups == n - 3)
        #expect(held.unconsumedSkipped == 0)
        #expect(log.startOffset == before[1].baseOffset)

        let skipped = try log.applyRetention(now: 0, keepFrom: keepFrom, respectGroups: false)
        #expect(skipped.deletedSegments == n - 3)
        #expect(skipped.heldBackByGroups == 0)
        #expect(skipped.unconsumedSkipped == before[n - 2].baseOffset - keepFrom)
        #expect(log.segmentInfos == Array(before.suffix(2)))
        #expect(try LogTestSupport.readAll(log) == records.filter { $0.offset >= before[n - 2].baseOffset })
    }

    /// When every segment has expired, the active one is rolled and deleted too: the log is empty, but
    /// its end offset stays and new records continue from it, also after a reopen.
    @Test func retentionOfEverythingKeepsTheEndOffset() throws {
        let dir = TemporaryDirectory()
        let (log, records) = try Self.makeLog(dir)
        let end = log.endOffset
        #expect(end == Int64(records.count))
        var config = log.config
        config.retentionMs = 1_000
        log.update(config: config)
        let result = try log.applyRetention(now: 1 << 40, keepFrom: nil, respectGroups: true)
        #expect(result.newStartOffset == end)
        #expect(log.startOffset == end)
        #expect(log.endOffset == end)
        #expect(log.sizeInBytes == 0)
        #expect(try log.read(from: end, maxBytes: 1 << 20).isEmpty)
        #expect(throws: LogError.self) { try log.read(from: end - 1, maxBytes: 100) }
        let names = try LogTestSupport.fileNames(log.directory)
        #expect(names == ["log", "index", "timeindex"].map { Segment.fileName(end, $0) }.sorted())
        try log.close()

        let reopened = try PartitionLog.open(directory: log.directory, config: config)
        #expect(reopened.startOffset == end)
        #expect(reopened.endOffset == end)
        let fresh = LogTestSupport.records(3, tag: "after", timestamp: 1 << 40)
        var batch = try LogTestSupport.batch(fresh)
        #expect(try reopened.append(&batch, now: 1 << 40).baseOffset == end)
        #expect(try reopened.applyRetention(now: 1 << 40, keepFrom: nil, respectGroups: true).deletedSegments == 0)
        try reopened.close()

        let again = try PartitionLog.open(directory: log.directory, config: config)
        #expect(again.startOffset == end)
        #expect(again.endOffset == end + 3)
        #expect(try LogTestSupport.readAll(again) == LogTestSupport.stored(fresh, from: end))
    }

    @Test func rollActiveSegment() throws {
        let dir = TemporaryDirectory()
        let (log, records) = try Self.makeLog(dir, count: 3)
        #expect(log.segmentInfos.count == 1)
        try log.rollActiveSegment()
        #expect(log.segmentInfos.map(\.baseOffset) == [0, log.endOffset])
        // An empty active segment is not rolled again.
        try log.rollActiveSegment()
        #expect(log.segmentInfos.count == 2)
        var batch = try LogTestSupport.batch(LogTestSupport.records(2, tag: "x"))
        #expect(try log.append(&batch, now: 10_100).baseOffset == Int64(records.count))
        try log.close()
        #expect(throws: LogError.self) { try log.rollActiveSegment() }
        let reopened = try PartitionLog.open(directory: log.directory, config: log.config)
        #expect(reopened.segmentInfos.map(\.baseOffset) == [0, Int64(records.count)])
        #expect(reopened.endOffset == Int64(records.count) + 2)
    }

    @Test func deleteSegmentsEndingAtOrBefore() throws {
        let dir = TemporaryDirectory()
        let (log, records) = try Self.makeLog(dir)
        let before = log.segmentInfos
        #expect(before.count >= 4)
        // An offset inside the second segment deletes only the first.
        #expect(try log.deleteSegments(endingAtOrBefore: before[1].nextOffset - 1) == 1)
        #expect(log.startOffset == before[1].baseOffset)
        #expect(try log.deleteSegments(endingAtOrBefore: before[1].baseOffset) == 0)
        #expect(try log.deleteSegments(endingAtOrBefore: before[2].nextOffset) == 2)
        #expect(log.startOffset == before[3].baseOffset)
        // The active segment is never deleted this way.
        #expect(try log.deleteSegments(endingAtOrBefore: .max) == before.count - 4)
        #expect(log.segmentInfos == [before[before.count - 1]])
        #expect(log.endOffset == Int64(records.count))
        #expect(try LogTestSupport.readAll(log) == records.filter { $0.offset >= log.startOffset })
        try log.close()
        let reopened = try PartitionLog.open(directory: log.directory, config: log.config)
        #expect(reopened.segmentInfos == [before[before.count - 1]])
    }
}
