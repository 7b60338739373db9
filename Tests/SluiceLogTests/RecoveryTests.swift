import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

/// Recovery of a partition log on open: a torn or corrupt tail of the active segment is cut at the
/// first bad batch, everything before it stays readable, and appends continue at the cut.
@Suite struct RecoveryTests {
    /// One batch of the active segment, as the fixture wrote it.
    struct StoredBatch {
        var baseOffset: Int64
        var nextOffset: Int64
        var position: Int
        var size: Int
        var end: Int { position + size }
    }

    /// A closed log of at least three segments whose active segment holds several small batches and
    /// ends with one of about 300 bytes. `pristine` is never changed; each case damages a copy.
    final class Fixture {
        let directory = TemporaryDirectory("sluice-recovery")
        let pristine: String
        let copy: String
        let config: LogConfig
        let records: [Record]
        let activeBase: Int64
        let active: [StoredBatch]
        let activeBytes: [UInt8]

        init() throws {
            pristine = directory.file("pristine")
            copy = directory.file("copy")
            var config = LogConfig()
            config.segmentBytes = 1_200
            config.indexIntervalBytes = 150
            config.flush = .os
            self.config = config
            let log = try PartitionLog.open(directory: pristine, config: config)
            var records: [Record] = []
            var b = 0
            func append(_ batch: [Record], compression: BatchCompression = .none) throws {
                var bytes = try LogTestSupport.batch(batch, compression: compression)
                let result = try log.append(&bytes, now: 1_000)
                records += LogTestSupport.stored(batch, from: result.baseOffset)
            }
            func activeBatchCount() throws -> Int {
                guard let last = log.segmentInfos.last else { return 0 }
                return try RecoveryTests.batches(in: log.read(from: last.baseOffset, maxBytes: 1 << 20)).count
            }
            while try log.segmentInfos.count < 3 || activeBatchCount() < 5
                || (log.segmentInfos.last?.sizeInBytes ?? 0) > 800
            {
                let batch = LogTestSupport.records(1 + b % 3, tag: "b\(b)", timestamp: 1_000 + Int64(b), valueSize: 6)
                try append(batch, compression: b % 5 == 4 ? .gzip : .none)
                b += 1
                guard b < 500 else { throw LogError(.io, "the recovery fixture never reached its shape") }
            }
            let last = (0..<3).map { i in
                Record(
                    key: Array("last-\(i)".utf8),
                    value: Array(repeating: UInt8(48 + i), count: 50),
                    headers: [Header("source", "fixture"), Header("line", "\(i)"), Header("null", nil)],
                    timestamp: 2_000 - Int64(i)
                )
            }
            try append(last)
            try log.close()
            let segments = log.segmentInfos
            guard segments.count >= 3, let activeInfo = segments.last else {
                throw LogError(.io, "the recovery fixture rolled its last batch into a new segment")
            }
            self.records = records
            activeBase = activeInfo.baseOffset
            activeBytes = try FileSystem.readFile(LogTestSupport.segmentFile(pristine, activeBase, "log"))
            active = RecoveryTests.batches(in: activeBytes)
        }

        /// Replaces `copy` with a fresh copy of the pristine log, damaged by `damage`.
        func damagedCopy(_ damage: (String) throws -> Void) throws {
            try LogTestSupport.copyDirectory(pristine, to: copy)
            try damage(copy)
        }

        var activeLog: String { LogTestSupport.segmentFile(copy, activeBase, "log") }

        /// Opens the damaged copy and checks the contract: the records before `end` are intact, the log
        /// ends at `end`, the file was cut there, and an append gets `end` and survives a reopen.
        func checkRecovered(endingAt end: Int64, cutAt position: Int, _ label: Comment) throws {
            let log = try PartitionLog.open(directory: copy, config: config)
            let kept = records.filter { $0.offset < end }
            #expect(log.endOffset == end, label)
            #expect(try LogTestSupport.readAll(log) == kept, label)
            #expect(FileSystem.fileSize(activeLog) == Int64(position), label)
            let probe = [Record(key: "probe", value: "after recovery", headers: [Header("h", "1")], timestamp: 3_000)]
            var batch = try LogTestSupport.batch(probe)
            #expect(try log.append(&batch, now: 3_000).baseOffset == end, label)
            try log.close()

            let reopened = try PartitionLog.open(directory: copy, config: config)
            #expect(reopened.endOffset == end + 1, label)
            #expect(try LogTestSupport.readAll(reopened) == kept + LogTestSupport.stored(probe, from: end), label)
            try reopened.close()
        }
    }

    /// The batches in `bytes` (whole batches back to back), with their positions.
    static func batches(in bytes: [UInt8]) -> [StoredBatch] {
        var result: [StoredBatch] = []
        var position = 0
        while bytes.count - position >= RecordBatchHeader.size {
            let header = bytes.withUnsafeBytes { RecordBatchHeader($0, at: position) }
            guard header.totalSize >= RecordBatchHeader.size, position + header.totalSize <= bytes.count else { break }
            result.append(
                StoredBatch(
                    baseOffset: header.baseOffset,
                    nextOffset: header.nextOffset,
                    position: position,
                    size: header.totalSize
                )
            )
            position += header.totalSize
        }
        return result
    }

    @Test func fixtureHasTheIntendedShape() throws {
        let fixture = try Fixture()
        let segments = try LogTestSupport.fileNames(fixture.pristine).filter { $0.hasSuffix(".log") }
        #expect(segments.count >= 3)
        #expect(fixture.active.count >= 5)
        let last = try #require(fixture.active.last)
        #expect(last.end == fixture.activeBytes.count)
        #expect((250...400).contains(last.size))
        #expect(last.nextOffset == fixture.records.last.map { $0.offset + 1 })
        try fixture.damagedCopy { _ in }
        try fixture.checkRecovered(endingAt: last.nextOffset, cutAt: fixture.activeBytes.count, "undamaged")
    }

    /// The acceptance test: the last file cut at every byte inside its last batch.
    @Test func tornTailAtEveryByteOfTheLastBatch() throws {
        let fixture = try Fixture()
        let last = try #require(fixture.active.last)
        for length in last.position..<last.end {
            try fixture.damagedCopy { _ in
                try LogTestSupport.truncateFile(fixture.activeLog, to: Int64(length))
            }
            try fixture.checkRecovered(endingAt: last.baseOffset, cutAt: last.position, "cut at \(length)")
        }
    }

    /// Cuts at every batch boundary of the active segment, down to an empty file, lose nothing more.
    @Test func cutsAtBatchBoundaries() throws {
        let fixture = try Fixture()
        for batch in fixture.active {
            try fixture.damagedCopy { _ in
                try LogTestSupport.truncateFile(fixture.activeLog, to: Int64(batch.position))
            }
            try fixture.checkRecovered(endingAt: batch.baseOffset, cutAt: batch.position, "cut at \(batch.position)")
        }
        #expect(fixture.active.first?.baseOffset == fixture.activeBase)
    }

    /// Every byte of the last batch flipped: the batch is cut, except for the partition leader epoch,
    /// which the CRC does not cover (as in Kafka) and which the log does not read.
    @Test func flippedByteInTheLastBatch() throws {
        let fixture = try Fixture()
        let last = try #require(fixture.active.last)
        let epoch = (last.position + 12)..<(last.position + 16)
        for position in last.position..<last.end {
            try fixture.damagedCopy { _ in try LogTestSupport.flipByte(fixture.activeLog, at: position) }
            if epoch.contains(position) {
                try fixture.checkRecovered(endingAt: last.nextOffset, cutAt: last.end, "epoch byte \(position)")
            } else {
                try fixture.checkRecovered(endingAt: last.baseOffset, cutAt: last.position, "flip at \(position)")
            }
        }
    }

    /// A flipped byte in an earlier batch of the active segment cuts that batch and everything after.
    @Test func flippedByteInEarlierBatchesOfTheActiveSegment() throws {
        let fixture = try Fixture()
        for batch in fixture.active.dropLast() {
            for position in stride(from: batch.position, to: batch.end, by: 3) {
                guard !(12..<16).contains(position - batch.position) else { continue }
                try fixture.damagedCopy { _ in try LogTestSupport.flipByte(fixture.activeLog, at: position) }
                try fixture.checkRecovered(endingAt: batch.baseOffset, cutAt: batch.position, "flip at \(position)")
            }
        }
    }

    /// Bytes after the last batch that are not a batch (zeros a crash left, or noise) are cut.
    @Test func garbageAfterTheLastBatchIsCut() throws {
        let fixture = try Fixture()
        let last = try #require(fixture.active.last)
        var generator = SplitMix64(seed: 99)
        let tails: [[UInt8]] = [
            [0],
            [UInt8](repeating: 0, count: 4_096),
            (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) },
            Array(fixture.activeBytes[last.position..<last.end]),
        ]
        for tail in tails {
            try fixture.damagedCopy { _ in
                try LogTestSupport.writeFile(fixture.activeLog, tail, at: Int64(last.end))
            }
            try fixture.checkRecovered(endingAt: last.nextOffset, cutAt: last.end, "\(tail.count) bytes of tail")
        }
    }

    /// Missing or damaged index files of the active segment are rebuilt as they were.
    @Test(arguments: ["index", "timeindex", "both", "garbage", "stale"])
    func activeSegmentIndexIsRebuilt(damage: String) throws {
        let fixture = try Fixture()
        let original = try LogTestSupport.snapshot(fixture.pristine)
        let index = LogTestSupport.segmentFile(fixture.copy, fixture.activeBase, "index")
        let timeIndex = LogTestSupport.segmentFile(fixture.copy, fixture.activeBase, "timeindex")
        #expect((original[Segment.fileName(fixture.activeBase, "index")]?.count ?? 0) >= 16)
        try fixture.damagedCopy { _ in
            switch damage {
            case "index": try FileSystem.removeFile(index)
            case "timeindex": try FileSystem.removeFile(timeIndex)
            case "both":
                try FileSystem.removeFile(index)
                try FileSystem.removeFile(timeIndex)
            case "garbage":
                try LogTestSupport.writeFile(index, [9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 1, 1, 1])
                try LogTestSupport.writeFile(timeIndex, [7, 7, 7])
            default:
                // An entry past the end of the log, as an index written ahead of a torn batch has.
                var bytes = try FileSystem.readFile(index)
                bytes += [0, 0, 1, 0, 0, 0, 0x30, 0]
                try LogTestSupport.writeFile(index, bytes)
            }
        }
        let log = try PartitionLog.open(directory: fixture.copy, config: fixture.config)
        #expect(try LogTestSupport.snapshot(fixture.copy) == original)
        #expect(try LogTestSupport.readAll(log, maxBytes: 1) == fixture.records)
        try log.close()
        try fixture.checkRecovered(endingAt: log.endOffset, cutAt: fixture.activeBytes.count, "\(damage)")
    }

    /// An empty active segment (just rolled) with garbage index files gets empty ones, and the
    /// entries appended next are the ones a rebuild makes.
    @Test func emptyActiveSegmentWithGarbageIndex() throws {
        let fixture = try Fixture()
        try fixture.damagedCopy { copy in
            let log = try PartitionLog.open(directory: copy, config: fixture.config)
            try log.rollActiveSegment()
            try log.close()
        }
        let end = try #require(fixture.records.last).offset + 1
        let index = LogTestSupport.segmentFile(fixture.copy, end, "index")
        let timeIndex = LogTestSupport.segmentFile(fixture.copy, end, "timeindex")
        try LogTestSupport.writeFile(index, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17])
        try LogTestSupport.writeFile(timeIndex, [1, 2, 3, 4, 5])

        let reopened = try PartitionLog.open(directory: fixture.copy, config: fixture.config)
        #expect(reopened.endOffset == end)
        #expect(FileSystem.fileSize(index) == 0)
        #expect(FileSystem.fileSize(timeIndex) == 0)
        try PartitionLogTests.appendBatches(reopened, count: 4, tag: "new")
        try reopened.close()
        let written = try LogTestSupport.snapshot(fixture.copy)
        try FileSystem.removeFile(index)
        try FileSystem.removeFile(timeIndex)
        _ = try PartitionLog.open(directory: fixture.copy, config: fixture.config)
        #expect(try LogTestSupport.snapshot(fixture.copy) == written)
    }

    /// Closed segments are trusted, not checked batch by batch; still, a batch length that does not
    /// move forward (here -12: a whole batch of 0 bytes) gives a `corrupt` error, never an endless loop.
    @Test func impossibleBatchLengthInAClosedSegment() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t-0")
        var config = LogConfig()
        config.segmentBytes = 3_000
        config.indexIntervalBytes = 1_000
        config.flush = .os
        let log = try PartitionLog.open(directory: path, config: config)
        let records = try PartitionLogTests.appendBatches(log, count: 60)
        try log.close()
        let first = try #require(log.segmentInfos.first)
        let segment = LogTestSupport.segmentFile(path, 0, "log")
        let batches = Self.batches(in: try FileSystem.readFile(segment))
        let index = try FileSystem.readFile(LogTestSupport.segmentFile(path, 0, "index"))
        #expect(index.count >= 16)
        let badLength: [UInt8] = [0xFF, 0xFF, 0xFF, 0xF4]

        // Before the last index entry: the log opens, and reads that cross the batch fail cleanly.
        try LogTestSupport.writeFile(segment, badLength, at: Int64(batches[1].position + 8))
        let reopened = try PartitionLog.open(directory: path, config: config)
        for offset in first.baseOffset..<first.nextOffset {
            do {
                let bytes = try reopened.read(from: offset, maxBytes: 1 << 16)
                #expect(try RecordBatchDecoder.decode(bytes, from: offset).records.first?.offset == offset)
            } catch let error as LogError {
                #expect(error.code == .corrupt)
            }
        }
        let rest = records.filter { $0.offset >= first.nextOffset }
        #expect(try LogTestSupport.readAll(reopened, from: first.nextOffset) == rest)
        try reopened.close()

        // After it: opening reads that batch's header, and refuses the log.
        let last = try #require(batches.last)
        try LogTestSupport.writeFile(segment, badLength, at: Int64(last.position + 8))
        let error = try #require(throws: LogError.self) { try PartitionLog.open(directory: path, config: config) }
        #expect(error.code == .corrupt)
    }

    /// A segment that does not start where the one before it ends is corruption the log cannot mend:
    /// opening it throws rather than serving a gap.
    @Test func gapBetweenSegmentsThrows() throws {
        let fixture = try Fixture()
        try fixture.damagedCopy { copy in
            let names = try LogTestSupport.fileNames(copy).filter { $0.hasSuffix(".log") }
            guard names.count >= 3 else { return }
            let middle = String(names[1].dropLast(4))
            for ext in ["log", "index", "timeindex"] { try FileSystem.removeFile(copy + "/" + middle + "." + ext) }
        }
        let error = try #require(throws: LogError.self) {
            try PartitionLog.open(directory: fixture.copy, config: fixture.config)
        }
        #expect(error.code == .corrupt)
    }
}
