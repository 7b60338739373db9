import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

/// Recovery of a partition log on open: a torn tail of the active segment (what an interrupted append
/// leaves) is cut, everything before it stays readable, and appends continue at the cut; corruption
/// anywhere is an error that changes nothing.
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

        /// Opens the damaged copy.
        func openDamaged() throws -> PartitionLog {
            try PartitionLog.open(directory: copy, config: config)
        }

        /// Opens the damaged copy and expects a `corrupt` error naming the active segment, with every
        /// file of the copy left exactly as the damage made it.
        func checkCorrupt(_ label: Comment) throws {
            let before = try LogTestSupport.snapshot(copy)
            do {
                let log = try openDamaged()
                try log.close()
                Issue.record("the damaged log opened: \(label)")
            } catch let error as LogError {
                #expect(error.code == .corrupt, label)
                #expect(error.message.contains(activeLog), label)
            }
            #expect(try LogTestSupport.snapshot(copy) == before, label)
        }

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

    /// Every byte of the last batch flipped. The batch is complete, so every flip its checks catch is
    /// corruption, its length field included (a length no append writes, or one that runs past the end
    /// of the file although the bytes there make the whole batch): opening throws and leaves the file
    /// as it was. The partition leader epoch is not covered by the CRC (as in Kafka) and the log does not
    /// read it.
    @Test func flippedByteInTheLastBatch() throws {
        let fixture = try Fixture()
        let last = try #require(fixture.active.last)
        let epoch = (last.position + 12)..<(last.position + 16)
        for position in last.position..<last.end {
            try fixture.damagedCopy { _ in try LogTestSupport.flipByte(fixture.activeLog, at: position) }
            if epoch.contains(position) {
                try fixture.checkRecovered(endingAt: last.nextOffset, cutAt: last.end, "epoch byte \(position)")
            } else {
                try fixture.checkCorrupt("flip at \(position)")
            }
        }
    }

    /// A flipped byte in an earlier batch of the active segment is corruption, wherever it is: valid
    /// batches follow it, and cutting there would lose them. Opening throws and changes nothing.
    @Test func flippedByteInEarlierBatchesOfTheActiveSegment() throws {
        let fixture = try Fixture()
        for batch in fixture.active.dropLast() {
            for position in stride(from: batch.position, to: batch.end, by: 3) {
                guard !(12..<16).contains(position - batch.position) else { continue }
                try fixture.damagedCopy { _ in try LogTestSupport.flipByte(fixture.activeLog, at: position) }
                try fixture.checkCorrupt("flip at \(position)")
            }
        }
    }

    /// What an interrupted append leaves after the last batch is cut: zeros, or any prefix of the next
    /// batch (which carries the next offset). Bytes an append cannot have written there are corruption:
    /// noise, a copy of an earlier batch, zeros followed by data.
    @Test func whatAnInterruptedAppendLeavesIsCutAndNothingElse() throws {
        let fixture = try Fixture()
        let last = try #require(fixture.active.last)
        var next = try LogTestSupport.batch(LogTestSupport.records(3, tag: "next", timestamp: 2_500, valueSize: 40))
        RecordBatch.setBaseOffset(last.nextOffset, in: &next)
        var torn: [[UInt8]] = [[0], [UInt8](repeating: 0, count: 4_096)]
        for length in [1, 7, 8, 11, 12, 16, 17, 40, 60, 61, 62, next.count / 2, next.count - 1] {
            torn.append(Array(next.prefix(length)))
        }
        for tail in torn {
            try fixture.damagedCopy { _ in
                try LogTestSupport.writeFile(fixture.activeLog, tail, at: Int64(last.end))
            }
            try fixture.checkRecovered(endingAt: last.nextOffset, cutAt: last.end, "\(tail.count) bytes of tail")
            #expect(try FileSystem.readFile(fixture.activeLog + ".torn") == tail, "the cut bytes are kept")
        }
        var generator = SplitMix64(seed: 99)
        let corrupt: [(String, [UInt8])] = [
            ("noise", (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) }),
            ("a copy of the last batch", Array(fixture.activeBytes[last.position..<(last.end - 1)])),
            ("zeros then data", [UInt8](repeating: 0, count: 100) + Array(next.prefix(30))),
            ("the next batch with a length of 3", Array(next.prefix(8)) + [0, 0, 0, 3] + Array(next[12..<40])),
        ]
        for (label, tail) in corrupt {
            try fixture.damagedCopy { _ in
                try LogTestSupport.writeFile(fixture.activeLog, tail, at: Int64(last.end))
            }
            try fixture.checkCorrupt("\(label)")
        }
        try fixture.damagedCopy { _ in
            try LogTestSupport.writeFile(
                fixture.activeLog, Array(fixture.activeBytes[last.position..<last.end]), at: Int64(last.end))
        }
        try fixture.checkCorrupt("a whole copy of the last batch after it")
    }

    /// Zeros or noise in the middle of the active segment, with valid batches after them, are
    /// corruption, although they look like a torn tail where they start.
    @Test func damageThatLooksTornWithBatchesAfterItIsCorruption() throws {
        let fixture = try Fixture()
        let second = fixture.active[1]
        for damage in [[UInt8](repeating: 0, count: 61), [0x7F, 0xFF, 0xFF, 0xFF]] {
            try fixture.damagedCopy { _ in
                try LogTestSupport.writeFile(
                    fixture.activeLog, damage, at: Int64(second.position + (damage.count == 4 ? 8 : 0)))
            }
            try fixture.checkCorrupt("\(damage.count) bytes at \(second.position)")
        }
    }

    /// A closed segment is never changed by an open: damage in one whose index must be rebuilt (so it
    /// is read batch by batch) throws, and the file keeps every byte.
    @Test func damagedClosedSegmentIsNeverModified() throws {
        let fixture = try Fixture()
        let first = LogTestSupport.segmentFile(fixture.copy, 0, "log")
        for damage in ["cut", "length"] {
            try fixture.damagedCopy { _ in
                try FileSystem.removeFile(LogTestSupport.segmentFile(fixture.copy, 0, "index"))
                let bytes = try FileSystem.readFile(first)
                let batches = Self.batches(in: bytes)
                if damage == "cut" {
                    try LogTestSupport.truncateFile(first, to: Int64(batches[1].position + 20))
                } else {
                    try LogTestSupport.writeFile(first, [0, 0, 0, 1], at: Int64(batches[1].position + 8))
                }
            }
            let before = try FileSystem.readFile(first)
            let error = try #require(throws: LogError.self, "\(damage)") {
                try PartitionLog.open(directory: fixture.copy, config: fixture.config)
            }
            #expect(error.code == .corrupt, "\(damage)")
            #expect(error.message.contains(first), "\(damage): \(error.message)")
            #expect(try FileSystem.readFile(first) == before, "\(damage)")
        }
    }

    /// Without `create`, a missing folder or one without segments is an error, never a new, empty log.
    @Test func missingFolderOrSegmentsIsAnErrorWithoutCreate() throws {
        let fixture = try Fixture()
        let missing = try #require(throws: LogError.self) {
            try PartitionLog.open(directory: fixture.directory.file("nothing"), config: fixture.config, create: false)
        }
        #expect(missing.code == .missing)
        #expect(!FileSystem.exists(fixture.directory.file("nothing")))
        try fixture.damagedCopy { copy in
            for name in try LogTestSupport.fileNames(copy) { try FileSystem.removeFile(copy + "/" + name) }
        }
        let empty = try #require(throws: LogError.self) {
            try PartitionLog.open(directory: fixture.copy, config: fixture.config, create: false)
        }
        #expect(empty.code == .missing)
        #expect(try LogTestSupport.fileNames(fixture.copy).isEmpty)
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
