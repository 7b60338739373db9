import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

/// The partition log through its public calls: appends and reads, rolling, reopening, flushing, the
/// time lookup, index repair on open, and read-only logs.
@Suite struct PartitionLogTests {
    /// A config with small segments and a dense index, so that a few kilobytes make several segments.
    static func smallConfig(segmentBytes: Int64 = 1_000, flush: FlushPolicy = .everyBatch) -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = segmentBytes
        config.indexIntervalBytes = 200
        config.flush = flush
        return config
    }

    /// Appends `count` batches of 1 to 5 records and returns what they read back as.
    @discardableResult
    static func appendBatches(
        _ log: PartitionLog,
        count: Int,
        tag: String = "b",
        timestamp: Int64 = 1_000,
        now: Int64? = nil
    ) throws -> [Record] {
        var stored: [Record] = []
        for b in 0..<count {
            let records = LogTestSupport.records(1 + b % 5, tag: "\(tag)\(b)", timestamp: timestamp + Int64(b) * 10)
            var batch = try LogTestSupport.batch(records, compression: b % 4 == 3 ? .gzip : .none)
            let result = try log.append(&batch, now: now ?? timestamp + Int64(b) * 10)
            stored += LogTestSupport.stored(records, from: result.baseOffset)
        }
        return stored
    }

    // MARK: Appending and reading

    @Test func appendAndReadAcrossManyBatches() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"))
        var expected: [Record] = []
        for b in 0..<60 {
            let records = LogTestSupport.records(1 + b % 7, tag: "b\(b)", timestamp: 1_000 + Int64(b) * 10)
            var batch = try LogTestSupport.batch(records, compression: b % 3 == 0 ? .gzip : .none)
            let result = try log.append(&batch)
            #expect(result.baseOffset == Int64(expected.count))
            #expect(result.lastOffset == Int64(expected.count + records.count - 1))
            expected += LogTestSupport.stored(records, from: result.baseOffset)
        }
        #expect(log.startOffset == 0)
        #expect(log.endOffset == Int64(expected.count))
        for maxBytes in [1, 200, 1_000, 1 << 20] {
            #expect(try LogTestSupport.readAll(log, maxBytes: maxBytes) == expected)
        }
        for offset in [1, 5, expected.count / 2, expected.count - 1] {
            #expect(try LogTestSupport.readAll(log, from: Int64(offset)) == Array(expected[offset...]))
        }
        try log.close()
    }

    /// A read returns the longest run of whole batches that fits in `maxBytes`, and the first batch
    /// alone when even that does not fit.
    @Test func readReturnsWholeBatchesAndAlwaysOne() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"))
        var batches: [[UInt8]] = []
        for b in 0..<12 {
            var batch = try LogTestSupport.batch(LogTestSupport.records(1 + b % 4, tag: "b\(b)", valueSize: 10 * b))
            _ = try log.append(&batch)
            batches.append(batch)
        }
        // Timestamps of 1970 appended by today's clock still fill one segment (see `rollingBySegmentMs`).
        #expect(log.segmentInfos.count == 1)
        var firstOffsets: [Int64] = []
        var offset: Int64 = 0
        for batch in batches {
            firstOffsets.append(offset)
            offset = batch.withUnsafeBytes { RecordBatchHeader($0) }.nextOffset
        }
        for (i, batch) in batches.enumerated() {
            let sizes = [0, 1, 60, 61, batch.count - 1, batch.count, batch.count + 1, 700, 2_000, 1 << 20]
            for maxBytes in sizes {
                var expected = batch
                for next in batches[(i + 1)...] {
                    guard expected.count + next.count <= max(maxBytes, RecordBatchHeader.size) else { break }
                    expected += next
                }
                for start in [firstOffsets[i], batch.withUnsafeBytes { RecordBatchHeader($0) }.lastOffset] {
                    let bytes = try log.read(from: start, maxBytes: maxBytes)
                    let same = bytes == expected
                    #expect(same, "batch \(i), offset \(start), maxBytes \(maxBytes): \(bytes.count) bytes")
                }
            }
        }
    }

    @Test func readAtEndIsEmptyAndBeforeStartThrows() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"), config: Self.smallConfig())
        #expect(try log.read(from: 0, maxBytes: 1 << 20).isEmpty)
        let expected = try Self.appendBatches(log, count: 30)
        #expect(try log.read(from: log.endOffset, maxBytes: 1 << 20).isEmpty)
        let error = try #require(throws: LogError.self) { try log.read(from: -1, maxBytes: 100) }
        #expect(error.code == .offsetOutOfRange)

        let boundary = try #require(log.segmentInfos.dropFirst().first?.baseOffset)
        #expect(try log.deleteSegments(endingAtOrBefore: boundary) == 1)
        #expect(log.startOffset == boundary)
        let below = try #require(throws: LogError.self) { try log.read(from: boundary - 1, maxBytes: 100) }
        #expect(below.code == .offsetOutOfRange)
        #expect(try LogTestSupport.readAll(log) == expected.filter { $0.offset >= boundary })
    }

    @Test func closedLogRefusesCalls() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"))
        try Self.appendBatches(log, count: 2)
        try log.close()
        var batch = try LogTestSupport.batch(LogTestSupport.records(1))
        #expect(throws: LogError.self) { try log.append(&batch) }
        let error = try #require(throws: LogError.self) { try log.read(from: 0, maxBytes: 100) }
        #expect(error.code == .closed)
    }

    @Test func invalidBatchesAreRefused() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"))
        let good = try LogTestSupport.batch(LogTestSupport.records(3))
        var badMagic = good
        badMagic[16] = 1
        var noRecords = good
        noRecords.withUnsafeMutableBytes { $0.storeBigEndian(Int32(0), at: RecordBatchHeader.recordCountOffset) }
        for bytes in [Array(good[..<40]), Array(good.dropLast()), badMagic, good + [0], noRecords] {
            var batch = bytes
            let error = try #require(throws: LogError.self) { try log.append(&batch) }
            #expect(error.code == .invalidBatch)
        }
        #expect(log.endOffset == 0)
        #expect(log.sizeInBytes == 0)
    }

    /// A batch whose CRC does not match is refused: stored, it would make recovery cut it and every
    /// batch after it.
    @Test func batchWithBadCRCIsRefused() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"))
        var batch = try LogTestSupport.batch(LogTestSupport.records(3))
        batch[batch.count - 1] ^= 0x01
        let error = try #require(throws: LogError.self) { try log.append(&batch) }
        #expect(error.code == .invalidBatch)
        #expect(log.endOffset == 0)
        #expect(log.sizeInBytes == 0)
    }

    // MARK: Segments

    @Test func rollingBySegmentBytes() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        let log = try PartitionLog.open(directory: path, config: Self.smallConfig())
        let expected = try Self.appendBatches(log, count: 60)
        let infos = log.segmentInfos
        #expect(infos.count >= 4)
        for (a, b) in zip(infos, infos.dropFirst()) {
            #expect(a.nextOffset == b.baseOffset)
            #expect(a.sizeInBytes <= 1_000)
            #expect(a.sizeInBytes > 0)
        }
        #expect(infos.first?.baseOffset == 0)
        #expect(infos.last?.nextOffset == log.endOffset)

        let names = try LogTestSupport.fileNames(path)
        let logFiles = names.filter { $0.hasSuffix(".log") }
        #expect(logFiles.count == infos.count)
        #expect(names.count == 3 * infos.count)
        for (name, info) in zip(logFiles, infos) {
            let digits = name.dropLast(4)
            #expect(digits.count == 20)
            #expect(digits.allSatisfy { $0.isASCII && $0.isNumber })
            #expect(Int64(digits) == info.baseOffset)
            #expect(names.contains(String(digits) + ".index"))
            #expect(names.contains(String(digits) + ".timeindex"))
            #expect(FileSystem.fileSize(path + "/" + name) == info.sizeInBytes)
        }
        #expect(logFiles.first == "00000000000000000000.log")
        #expect(try LogTestSupport.readAll(log, maxBytes: 1) == expected)
        try log.close()

        let reopened = try PartitionLog.open(directory: path, config: Self.smallConfig())
        #expect(reopened.segmentInfos == infos)
        #expect(try LogTestSupport.readAll(reopened, maxBytes: 333) == expected)
    }

    @Test func rollingBySegmentMs() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentMs = 60_000
        let log = try PartitionLog.open(directory: dir.file("t-0"), config: config)
        let start: Int64 = 1_000_000
        func append(at time: Int64) throws -> Int64 {
            var batch = try LogTestSupport.batch([Record(key: "k", value: "v", timestamp: time)])
            return try log.append(&batch, now: time).baseOffset
        }
        #expect(try append(at: start) == 0)
        #expect(try append(at: start + 30_000) == 1)
        #expect(try append(at: start + 60_000) == 2)
        #expect(log.segmentInfos.count == 1)
        #expect(try append(at: start + 60_001) == 3)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 3])
        // The new segment counts from its own first batch.
        #expect(try append(at: start + 120_001) == 4)
        #expect(log.segmentInfos.count == 2)
        #expect(try append(at: start + 120_002) == 5)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 3, 5])

        config.segmentMs = -1
        log.update(config: config)
        #expect(try append(at: start + 10_000_000) == 6)
        #expect(log.segmentInfos.count == 3)
        try log.close()

        let reopened = try PartitionLog.open(directory: dir.file("t-0"), config: log.config)
        #expect(reopened.segmentInfos.map(\.baseOffset) == [0, 3, 5])
        #expect(reopened.endOffset == 7)
    }

    /// Records with old timestamps (a replay) do not roll a segment for every batch: a segment is old
    /// only when both the clock and the appended batch's timestamps are past its first batch by
    /// `segment_ms`.
    @Test func oldRecordTimestampsDoNotRollEveryBatch() throws {
        let dir = TemporaryDirectory()
        var config = LogConfig()
        config.segmentMs = 60_000
        let log = try PartitionLog.open(directory: dir.file("t-0"), config: config)
        let now: Int64 = 1_700_000_000_000
        func append(timestamp: Int64, now: Int64) throws -> Int64 {
            var batch = try LogTestSupport.batch([Record(key: "k", value: "v", timestamp: timestamp)])
            return try log.append(&batch, now: now).baseOffset
        }
        for i in 0..<20 { _ = try append(timestamp: 1_000 + Int64(i), now: now + Int64(i)) }
        #expect(log.segmentInfos.count == 1)
        #expect(try append(timestamp: 61_001, now: now + 100) == 20)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 20])
        #expect(try append(timestamp: now + 300, now: now + 300) == 21)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 20, 21])
        // Timestamps far ahead of the clock do not roll either, until the clock catches up.
        #expect(try append(timestamp: now + 3_600_000, now: now + 400) == 22)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 20, 21])
        #expect(try append(timestamp: now + 3_600_000, now: now + 60_301) == 23)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 20, 21, 23])
    }

    @Test func rollPolicyIsAPureDecision() {
        func roll(size: Int64, first: Int64? = 0, batch: Int = 10, timestamp: Int64 = 0, now: Int64 = 0) -> Bool {
            RollPolicy.shouldRoll(
                activeSize: size,
                rollTimestamp: first,
                batchSize: batch,
                batchTimestamp: timestamp,
                now: now,
                segmentBytes: 100,
                segmentMs: 1_000
            )
        }
        #expect(!roll(size: 0, batch: 1_000, timestamp: 5_000, now: 5_000))
        #expect(!roll(size: 90, batch: 10))
        #expect(roll(size: 90, batch: 11))
        #expect(!roll(size: 50, timestamp: 1_000, now: 1_000))
        #expect(roll(size: 50, timestamp: 1_001, now: 1_001))
        #expect(!roll(size: 50, timestamp: 1_001, now: 999))
        #expect(!roll(size: 50, timestamp: 999, now: 1_001))
        #expect(!roll(size: 50, first: nil, timestamp: 5_000, now: 5_000))
        // However large segment_bytes is, a segment stays within what the index's uint32 positions address.
        let huge = RollPolicy.shouldRoll(
            activeSize: Int64(UInt32.max) - 100,
            rollTimestamp: 0,
            batchSize: 200,
            batchTimestamp: 0,
            now: 0,
            segmentBytes: 1 << 40,
            segmentMs: -1
        )
        #expect(huge)
    }

    @Test func offsetsContinueAcrossReopen() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        var expected: [Record] = []
        for round in 0..<5 {
            let log = try PartitionLog.open(directory: path, config: Self.smallConfig())
            #expect(log.endOffset == Int64(expected.count))
            #expect(try LogTestSupport.readAll(log) == expected)
            let added = try Self.appendBatches(log, count: 7 + round, tag: "r\(round)-")
            #expect(added.first?.offset == Int64(expected.count))
            expected += added
            try log.close()
        }
        let log = try PartitionLog.open(directory: path, config: Self.smallConfig())
        #expect(log.segmentInfos.count > 2)
        #expect(try LogTestSupport.readAll(log, maxBytes: 500) == expected)
    }

    @Test(arguments: [FlushPolicy.everyBatch, .interval(millis: 1_000), .os])
    func flushPoliciesKeepDataReadable(policy: FlushPolicy) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        let log = try PartitionLog.open(directory: path, config: Self.smallConfig(flush: policy))
        var expected = try Self.appendBatches(log, count: 3, timestamp: 10_000, now: 10_000)
        let unflushed = { log.state.withLock { $0.unflushedSince } }
        switch policy {
        case .everyBatch:
            #expect(unflushed() == nil)
        case .interval:
            #expect(unflushed() == 10_000)
            try log.flushIfDue(now: 10_999)
            #expect(unflushed() == 10_000)
            try log.flushIfDue(now: 11_000)
            #expect(unflushed() == nil)
            expected += try Self.appendBatches(log, count: 2, tag: "late", timestamp: 12_000, now: 12_000)
            #expect(unflushed() == 12_000)
        case .os:
            #expect(unflushed() == 10_000)
            try log.flushIfDue(now: 1 << 40)
            #expect(unflushed() == 10_000)
            try log.flush()
            #expect(unflushed() == nil)
        }
        expected += try Self.appendBatches(log, count: 40, tag: "more", timestamp: 20_000, now: 20_000)
        #expect(log.segmentInfos.count > 1)
        try log.close()

        let reopened = try PartitionLog.open(directory: path, config: Self.smallConfig(flush: policy))
        #expect(reopened.endOffset == Int64(expected.count))
        #expect(try LogTestSupport.readAll(reopened) == expected)
    }

    // MARK: Time lookup

    /// `offset(forTimestamp:)` finds the first record, in offset order, whose timestamp is at or after
    /// the target, also when timestamps go back and forth between and inside batches.
    @Test func offsetForTimestamp() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        // Batches of about 90 bytes: an index entry every third batch or so, and several segments.
        var config = Self.smallConfig(segmentBytes: 1_500)
        config.indexIntervalBytes = 250
        let log = try PartitionLog.open(directory: path, config: config)
        #expect(try log.offset(forTimestamp: 0) == 0)
        var expected: [Record] = []
        for b in 0..<40 {
            let base: Int64 = 10_000 + Int64(b) * 100 + (b % 6 == 2 ? 5_000 : 0) - (b % 7 == 4 ? 3_000 : 0)
            let records = [3, 0, 7].map { Record(key: "k\(b)", value: "v", timestamp: base + $0) }
            var batch = try LogTestSupport.batch(records)
            let result = try log.append(&batch, now: base)
            expected += LogTestSupport.stored(records, from: result.baseOffset)
        }
        #expect(log.segmentInfos.count >= 3)
        var targets = Set(expected.map(\.timestamp))
        for timestamp in Array(targets) {
            targets.insert(timestamp - 1)
            targets.insert(timestamp + 1)
        }
        targets.insert(.min)
        targets.insert(.max)
        func check(_ log: PartitionLog) throws {
            for target in targets.sorted() {
                let want = expected.first(where: { $0.timestamp >= target })?.offset ?? log.endOffset
                #expect(try log.offset(forTimestamp: target) == want, "timestamp \(target)")
            }
        }
        try check(log)
        let infos = log.segmentInfos
        for info in infos.dropLast() {
            let inSegment = expected.filter { $0.offset >= info.baseOffset && $0.offset < info.nextOffset }
            #expect(info.maxTimestamp == inSegment.map(\.timestamp).max())
        }
        try log.close()

        let reopened = try PartitionLog.open(directory: path, config: config)
        #expect(reopened.segmentInfos == infos)
        try check(reopened)
    }

    // MARK: Indexes

    enum IndexDamage: String, CaseIterable, CustomTestStringConvertible {
        case deleteOffsetIndex, deleteTimeIndex, deleteBoth, garbageOffsetIndex, garbageOddLength
        case garbageTimeIndex, emptyOffsetIndex, zeroedOffsetIndex

        var testDescription: String { rawValue }
    }

    /// A damaged index of a closed segment is rebuilt on open, byte for byte as it was, and reads go
    /// on working.
    @Test(arguments: IndexDamage.allCases)
    func closedSegmentIndexIsRebuilt(damage: IndexDamage) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        var config = Self.smallConfig(segmentBytes: 3_000)
        config.indexIntervalBytes = 150
        let log = try PartitionLog.open(directory: path, config: config)
        let expected = try Self.appendBatches(log, count: 60)
        try log.close()
        #expect(log.segmentInfos.count >= 3)
        let original = try LogTestSupport.snapshot(path)
        let index = LogTestSupport.segmentFile(path, 0, "index")
        let timeIndex = LogTestSupport.segmentFile(path, 0, "timeindex")
        let indexSize = original[Segment.fileName(0, "index")]?.count ?? 0
        #expect(indexSize > 16)

        var generator = SplitMix64(seed: 5)
        let garbage = { (count: Int) in (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        switch damage {
        case .deleteOffsetIndex: try FileSystem.removeFile(index)
        case .deleteTimeIndex: try FileSystem.removeFile(timeIndex)
        case .deleteBoth:
            try FileSystem.removeFile(index)
            try FileSystem.removeFile(timeIndex)
        case .garbageOffsetIndex: try LogTestSupport.writeFile(index, garbage(64))
        case .garbageOddLength: try LogTestSupport.writeFile(index, garbage(37))
        case .garbageTimeIndex: try LogTestSupport.writeFile(timeIndex, garbage(60))
        case .emptyOffsetIndex: try LogTestSupport.writeFile(index, [])
        case .zeroedOffsetIndex: try LogTestSupport.writeFile(index, [UInt8](repeating: 0, count: indexSize))
        }

        let reopened = try PartitionLog.open(directory: path, config: config)
        #expect(try LogTestSupport.snapshot(path) == original)
        #expect(try LogTestSupport.readAll(reopened, maxBytes: 1) == expected)
        for offset in stride(from: 0, to: expected.count, by: 7) {
            #expect(try LogTestSupport.readAll(reopened, from: Int64(offset)) == Array(expected[offset...]))
        }
        #expect(reopened.segmentInfos == log.segmentInfos)
    }

    /// A prefix of a valid index is still a valid sparse index: the log opens and reads everything.
    @Test func truncatedClosedSegmentIndexStillReads() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        let config = Self.smallConfig(segmentBytes: 3_000)
        let log = try PartitionLog.open(directory: path, config: config)
        let expected = try Self.appendBatches(log, count: 60)
        try log.close()
        let index = LogTestSupport.segmentFile(path, 0, "index")
        try LogTestSupport.truncateFile(index, to: 8)
        let reopened = try PartitionLog.open(directory: path, config: config)
        #expect(reopened.segmentInfos == log.segmentInfos)
        for offset in stride(from: 0, to: expected.count, by: 5) {
            #expect(try LogTestSupport.readAll(reopened, from: Int64(offset)) == Array(expected[offset...]))
        }
    }

    /// The index files written by appends after a reopen are the ones a rebuild makes: entries added
    /// after the reopen reach the files too.
    @Test func indexFilesWrittenAfterReopenMatchARebuild() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        let config = Self.smallConfig(segmentBytes: 100_000)
        for round in 0..<3 {
            let log = try PartitionLog.open(directory: path, config: config)
            try Self.appendBatches(log, count: 8, tag: "r\(round)-")
            try log.close()
        }
        let log = try PartitionLog.open(directory: path, config: config)
        try Self.appendBatches(log, count: 8, tag: "last-")
        try log.rollActiveSegment()
        try log.close()
        #expect(log.segmentInfos.count == 2)
        let written = try LogTestSupport.snapshot(path)
        for ext in ["index", "timeindex"] { try FileSystem.removeFile(LogTestSupport.segmentFile(path, 0, ext)) }
        _ = try PartitionLog.open(directory: path, config: config)
        let rebuilt = try LogTestSupport.snapshot(path)
        #expect((rebuilt[Segment.fileName(0, "index")]?.count ?? 0) > 8 * 10)
        for ext in ["index", "timeindex"] {
            let name = Segment.fileName(0, ext)
            let same = written[name] == rebuilt[name]
            #expect(same, "\(name): \(written[name]?.count ?? 0) bytes written, \(rebuilt[name]?.count ?? 0) rebuilt")
        }
    }

    // MARK: Read-only logs

    @Test func readOnlyOpenModifiesNothing() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        let writer = try PartitionLog.open(directory: path, config: Self.smallConfig())
        var expected = try Self.appendBatches(writer, count: 40)
        try writer.close()
        #expect(writer.segmentInfos.count >= 3)

        func checkReadOnly(_ label: Comment) throws {
            let before = try LogTestSupport.snapshot(path)
            let reader = try PartitionLog.open(directory: path, config: Self.smallConfig(), readOnly: true)
            #expect(reader.isReadOnly)
            #expect(reader.endOffset == Int64(expected.count), label)
            #expect(try LogTestSupport.readAll(reader) == expected, label)
            var batch = try LogTestSupport.batch(LogTestSupport.records(1))
            let error = try #require(throws: LogError.self) { try reader.append(&batch) }
            #expect(error.code == .readOnly)
            #expect(throws: LogError.self) { try reader.applyRetention(keepFrom: nil, respectGroups: false) }
            #expect(throws: LogError.self) { try reader.rollActiveSegment() }
            #expect(throws: LogError.self) { try reader.deleteSegments(endingAtOrBefore: .max) }
            try reader.flush()
            try reader.refresh()
            try reader.close()
            #expect(try LogTestSupport.snapshot(path) == before, label)
        }
        try checkReadOnly("clean log")

        let active = try #require(writer.segmentInfos.last)
        let activeLog = LogTestSupport.segmentFile(path, active.baseOffset, "log")
        // Half of the batch an append was writing, which carries the next offset.
        var torn = try LogTestSupport.batch(LogTestSupport.records(4, tag: "torn"))
        RecordBatch.setBaseOffset(active.nextOffset, in: &torn)
        try LogTestSupport.writeFile(activeLog, torn[..<(torn.count / 2)], at: active.sizeInBytes)
        try checkReadOnly("torn tail")

        try FileSystem.removeFile(LogTestSupport.segmentFile(path, 0, "index"))
        try FileSystem.removeFile(LogTestSupport.segmentFile(path, active.baseOffset, "timeindex"))
        let secondIndex = LogTestSupport.segmentFile(path, writer.segmentInfos[1].baseOffset, "index")
        try LogTestSupport.writeFile(secondIndex, [1, 2, 3])
        try checkReadOnly("missing and bad indexes")

        let reopened = try PartitionLog.open(directory: path, config: Self.smallConfig())
        #expect(FileSystem.fileSize(activeLog) == active.sizeInBytes)
        expected += try Self.appendBatches(reopened, count: 3, tag: "after")
        #expect(try LogTestSupport.readAll(reopened) == expected)
    }

    @Test func readOnlyOpenNeedsAnExistingLog() throws {
        let dir = TemporaryDirectory()
        #expect(throws: LogError.self) { try PartitionLog.open(directory: dir.file("missing"), readOnly: true) }
        try FileSystem.createDirectory(dir.file("empty"))
        #expect(throws: LogError.self) { try PartitionLog.open(directory: dir.file("empty"), readOnly: true) }
        #expect(try LogTestSupport.fileNames(dir.file("empty")).isEmpty)
    }

    /// A read-only log sees, after `refresh`, what a writer appended since it opened, new segments
    /// included; a torn tail the reader saw first is cut by the writer and replaced.
    @Test func refreshSeesWhatAWriterAppended() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        let config = Self.smallConfig()
        let first = try PartitionLog.open(directory: path, config: config)
        var expected = try Self.appendBatches(first, count: 12)
        try first.close()
        let active = try #require(first.segmentInfos.last)
        var torn = try LogTestSupport.batch(LogTestSupport.records(3, tag: "torn"))
        RecordBatch.setBaseOffset(active.nextOffset, in: &torn)
        let activeLog = LogTestSupport.segmentFile(path, active.baseOffset, "log")
        try LogTestSupport.writeFile(activeLog, torn[..<70], at: active.sizeInBytes)

        let reader = try PartitionLog.open(directory: path, config: config, readOnly: true)
        #expect(reader.endOffset == Int64(expected.count))
        let writer = try PartitionLog.open(directory: path, config: config)
        #expect(writer.endOffset == Int64(expected.count))
        for round in 0..<3 {
            expected += try Self.appendBatches(writer, count: 5 + 10 * round, tag: "w\(round)-")
            #expect(reader.endOffset < writer.endOffset)
            try reader.refresh()
            #expect(reader.endOffset == writer.endOffset)
            #expect(reader.segmentInfos == writer.segmentInfos)
            #expect(try LogTestSupport.readAll(reader, maxBytes: 300) == expected)
        }
        try writer.refresh()
        #expect(writer.endOffset == Int64(expected.count))
    }
}
