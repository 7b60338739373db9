import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

/// Inputs the fuzz harnesses in `Fuzz/` (record-batch, segment-recovery) found, minimized by hand.
@Suite struct FuzzRegressionTests {
    /// A one-record batch whose record says its offset delta is `delta` (the batch's last offset delta
    /// is 0), with a valid CRC, so that only the record itself is wrong.
    static func batch(recordOffsetDelta delta: Int64) throws -> [UInt8] {
        var batch = try LogTestSupport.batch(LogTestSupport.records(1))
        // Header, then the record: length varint, attributes, timestamp delta 0, offset delta.
        let position = RecordBatchHeader.size + 3
        #expect(batch[position] == 0, "the builder wrote offset delta 0 there")
        var encoded: [UInt8] = []
        Varint.append(delta, to: &encoded)
        #expect(encoded.count == 1, "the length of the record stays the same")
        batch[position] = encoded[0]
        batch.withUnsafeMutableBytes { raw in
            let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: 0, totalSize: raw.count)
            raw.storeBigEndian(crc, at: RecordBatchHeader.crcOffset)
        }
        return batch
    }

    /// A record whose offset lies outside its batch (offset delta below 0 or past the last offset
    /// delta) is corruption. It used to decode with that offset, so a log holding it read back a
    /// record past its end offset, out of order, and a reader that goes on from the last record's
    /// offset + 1 (`forEachBlock`, consumers) skipped every record appended after it.
    @Test(arguments: [5, -1, 63] as [Int64])
    func recordOutsideItsBatchIsCorrupt(delta: Int64) throws {
        let batch = try Self.batch(recordOffsetDelta: delta)
        let error = try #require(throws: LogError.self) { try RecordBatchDecoder.decode(batch) }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("offset delta \(delta)"))
    }

    /// Found again by the record-batch harness, which builds what it decoded: records stamped at both
    /// ends of Int64 build into one batch (wrapping timestamp deltas, 952e97f) and read back exactly,
    /// with and without compression.
    @Test(arguments: BatchCompression.allCases)
    func recordsStampedFarApartRoundTrip(compression: BatchCompression) throws {
        let timestamps: [Int64] = [Int64.min, Int64.max, 0, -1, Int64.max - 1, Int64.min + 1]
        let records = timestamps.enumerated().map { i, timestamp in
            Record(key: Array("k\(i)".utf8), value: [UInt8(i)], timestamp: timestamp)
        }
        var builder = RecordBatchBuilder(compression: compression)
        for record in records { builder.append(record) }
        let batch = try builder.build()
        #expect(batch.withUnsafeBytes { RecordBatchHeader($0) }.maxTimestamp == Int64.max)
        let block = try RecordBatchDecoder.decode(batch)
        #expect(block.entries.map(\.timestamp) == timestamps)
        #expect(block.records == LogTestSupport.stored(records, from: 0))
    }

    /// The segment-recovery harness's finding: an active segment whose one batch holds a record at
    /// offset 5 opens with end offset 1; the next append gets offset 1, and reading the log gave
    /// the stray record first, or only the stray record when it was read alone. Reading now stops with
    /// the corruption instead.
    @Test func recordPastTheEndOfTheLogDoesNotHideAppends() throws {
        let directory = TemporaryDirectory("sluice-fuzz-regression")
        let path = directory.file("orders-0")
        try FileSystem.createDirectory(path)
        try LogTestSupport.writeFile(
            LogTestSupport.segmentFile(path, 0, "log"), try Self.batch(recordOffsetDelta: 5))
        var config = LogConfig()
        config.flush = .os
        let log = try PartitionLog.open(directory: path, config: config)
        #expect(log.endOffset == 1)
        var next = try LogTestSupport.batch(LogTestSupport.records(2, tag: "after"))
        #expect(try log.append(&next).baseOffset == 1)
        let error = try #require(throws: LogError.self) { try log.records() }
        #expect(error.code == .corrupt)
        try log.close()
    }

    /// The segment-recovery harness's finding: `forEachBlock` (and so `records()` and
    /// `offset(forTimestamp:)`) ends at a read that decodes to no record, as a control batch alone at
    /// the end of a segment does, so the records after it are never read. It must move on to the
    /// offset after the batches it read (their headers' next offset), as Kafka's fetch does.
    @Test func readingGoesOnPastABatchWithoutRecords() throws {
        let directory = TemporaryDirectory("sluice-fuzz-regression")
        var config = LogConfig()
        config.flush = .os
        config.segmentBytes = 100
        let log = try PartitionLog.open(directory: directory.file("orders-0"), config: config)
        var control = try LogTestSupport.batch(LogTestSupport.records(1, tag: "control"))
        control.withUnsafeMutableBytes { raw in
            raw.storeBigEndian(Int16(0x20 | 0x10), at: RecordBatchHeader.attributesOffset)
            let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: 0, totalSize: raw.count)
            raw.storeBigEndian(crc, at: RecordBatchHeader.crcOffset)
        }
        _ = try log.append(&control)
        var data = try LogTestSupport.batch(LogTestSupport.records(2))
        _ = try log.append(&data)
        #expect(log.segmentInfos.map(\.baseOffset) == [0, 1], "the control batch is alone in its segment")
        #expect(try log.records().map(\.offset) == [1, 2])
        try log.close()
    }

    /// The segment-recovery harness's finding: `RollPolicy.shouldRoll` computes `now - rollTimestamp`
    /// (and `batchTimestamp - rollTimestamp`), which traps when the active segment's first batch is
    /// stamped near `Int64.min`, so the next append crashes the process. The fuzzer got there with a
    /// damaged segment whose CRC it fixed; an append of a record with such a timestamp does it too.
    @Test func appendAfterABatchStampedNearInt64MinDoesNotCrash() throws {
        let directory = TemporaryDirectory("sluice-fuzz-regression")
        var config = LogConfig()
        config.flush = .os
        let log = try PartitionLog.open(directory: directory.file("orders-0"), config: config)
        var early = try LogTestSupport.batch(LogTestSupport.records(1, timestamp: Int64.min))
        _ = try log.append(&early)
        var next = try LogTestSupport.batch(LogTestSupport.records(1, tag: "next"))
        _ = try log.append(&next, now: 1_700_000_000_000)
        #expect(try log.records().map(\.offset) == [0, 1])
        try log.close()
    }

    /// The segment-recovery harness's finding: offsets are not kept below `Int64.max`. A log whose
    /// segment is named near the top (a damaged or crafted file name) takes appends past it: the
    /// offsets wrap to negative ones, a roll then names a segment `-9223372036854775806.log`, which
    /// the next open does not recognise, and the appended records are gone. An append whose offsets
    /// would pass `Int64.max` must be refused (and recovery must not accept batches that wrap).
    @Test func offsetsNeverWrapPastInt64Max() throws {
        let directory = TemporaryDirectory("sluice-fuzz-regression")
        let path = directory.file("orders-0")
        try FileSystem.createDirectory(path)
        try LogTestSupport.writeFile(LogTestSupport.segmentFile(path, Int64.max - 1, "log"), [])
        var config = LogConfig()
        config.flush = .os
        config.segmentBytes = 100
        let log = try PartitionLog.open(directory: path, config: config)
        #expect(log.endOffset == Int64.max - 1)
        for round in 0..<2 {
            var batch = try LogTestSupport.batch(LogTestSupport.records(2, tag: "r\(round)"))
            _ = try? log.append(&batch)
            #expect(log.endOffset >= 0, "round \(round): the end offset wrapped to \(log.endOffset)")
        }
        let stored = try log.records()
        try log.close()
        let reopened = try PartitionLog.open(directory: path, config: config)
        #expect(reopened.endOffset == log.endOffset)
        #expect(try reopened.records() == stored)
    }

    /// The segment-recovery harness's finding, from the same root as the one above: the scanner takes
    /// a batch whose offsets wrapped past `Int64.max` as the continuation of the one before, and then
    /// traps computing its offset relative to the segment (`header.baseOffset - baseOffset` in
    /// `SegmentScanner.scan`) for the index. Opening such a segment must throw or cut it, not crash.
    @Test func segmentWhoseOffsetsWrapDoesNotCrashRecovery() throws {
        let directory = TemporaryDirectory("sluice-fuzz-regression")
        let path = directory.file("orders-0")
        try FileSystem.createDirectory(path)
        let base = Int64.max - 1
        var first = try LogTestSupport.batch(LogTestSupport.records(3, tag: "a"))
        RecordBatch.setBaseOffset(base, in: &first)
        var second = try LogTestSupport.batch(LogTestSupport.records(1, tag: "b"))
        RecordBatch.setBaseOffset(base &+ 3, in: &second)
        try LogTestSupport.writeFile(LogTestSupport.segmentFile(path, base, "log"), first + second)
        var config = LogConfig()
        config.flush = .os
        config.indexIntervalBytes = 1
        if let log = try? PartitionLog.open(directory: path, config: config) {
            #expect(log.endOffset >= 0)
            try log.close()
        }
    }

    /// Timestamps at both ends of Int64 in one batch, and retention over a segment stamped Int64.min:
    /// wrapping deltas and saturating ages, never a trap.
    @Test func extremeTimestampsNeitherTrapInBatchesNorInRetention() throws {
        let directory = TemporaryDirectory("sluice-fuzz-regression")
        var config = LogConfig()
        config.flush = .os
        config.retentionMs = 1_000
        let log = try PartitionLog.open(directory: directory.file("t-0"), config: config)
        let records = [
            Record(key: "a", value: "min", timestamp: Int64.min), Record(key: "b", value: "max", timestamp: Int64.max),
        ]
        var early = try LogTestSupport.batch([Record(key: "e", value: "early", timestamp: Int64.min)])
        _ = try log.append(&early, now: 1_700_000_000_000)
        try log.rollActiveSegment()
        var batch = try LogTestSupport.batch(records)
        _ = try log.append(&batch, now: 1_700_000_000_000)
        #expect(try log.records().map(\.timestamp) == [Int64.min, Int64.min, Int64.max])
        try log.rollActiveSegment()
        let result = try log.applyRetention(now: Int64.max, keepFrom: nil, respectGroups: false)
        #expect(result.deletedSegments == 1, "the segment stamped Int64.min is past any retention")
        try log.close()
    }
}
