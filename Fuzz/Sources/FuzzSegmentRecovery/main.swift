import FuzzSupport
import Logging
import SluiceCore
import SluiceLog

// Fuzzes the recovery of a partition log: `PartitionLog.open` on a folder holding a fuzzed active
// segment (and optionally fuzzed index files and a closed segment before it), then reading every
// record, reading from every offset, appending a batch and opening the folder again. Each step must
// succeed or throw; none may crash or hang. What an open accepted must read back the same after the
// harness's own append and a reopen, with the appended record at the end.
//
// Input: a flags byte (bit 0: fix the CRCs of the batches; bit 1: index files follow; bit 2: two
// segments; bit 3: open read-only first; bit 4: small segment_bytes, so that the append rolls; bit 5:
// small max batch size; bit 6: an index entry every 64 bytes; bit 7: offsets near a limit). With bit
// 7, a byte picks the first segment's base offset near the top of Int32, UInt32 or Int64, and the
// batches' base offsets are rewritten to follow on from it. With bit 2, a 16-bit split point and a
// byte for the second segment's base offset (0: where the first one ends). With bit 1, a 16-bit
// length and the `.index` bytes, then the same for `.timeindex`. The rest is the segment bytes.

/// What every input shares: its folder, and a logger that keeps recovery warnings quiet.
enum Shared {
    static let scratch = ScratchDirectory("sluice-fuzz-segment")
    static let quiet: Logger = {
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        return logger
    }()
}

/// The offset after the last batch whose header fits in `bytes`, walking the lengths from the start.
func endOffset(of bytes: [UInt8]) -> Int64 {
    var position = 0
    var next: Int64 = 0
    bytes.withUnsafeBytes { raw in
        while raw.count - position >= RecordBatchHeader.size {
            let header = RecordBatchHeader(raw, at: position)
            guard header.totalSize >= RecordBatchHeader.size, header.totalSize <= raw.count - position else { return }
            next = header.nextOffset
            position += header.totalSize
        }
    }
    return next
}

/// Every record from the start of the log, read as a consumer reads: from the offset after the last
/// batch read, found from the batches' own headers, so that a read that decodes to no record (a
/// control batch alone, for one) does not end it. `PartitionLog.records()` must give the same (it
/// used to stop at such a read). Nil when a read throws.
func readAll(_ log: PartitionLog) -> [Record]? {
    var records: [Record] = []
    var next = log.startOffset
    let end = log.endOffset
    var steps = 0
    while next < end {
        steps += 1
        require(steps < 100_000, "reading from \(next) never reaches the end offset \(end)")
        guard let bytes = try? log.read(from: next, maxBytes: 300), !bytes.isEmpty,
            let block = try? RecordBatchDecoder.decode(bytes, from: next)
        else { return nil }
        records += block.records
        let after = max(endOffset(of: bytes), (block.entries.last?.offset ?? next) &+ 1)
        guard after > next else { return nil }
        next = after
    }
    return records
}

/// Reads everything a log offers, the ways the broker does. Checks that its offsets are sane and that
/// `records()` gives what `readAll` gives, and returns those records (which the caller checks); the
/// other reads must merely not crash.
func exercise(_ log: PartitionLog) -> [Record]? {
    let start = log.startOffset
    let end = log.endOffset
    require(start >= 0 && end >= start, "offsets \(start)..<\(end)")
    let records = readAll(log)
    let listed = try? log.records()
    if let records, let listed {
        require(listed == records, "records() gives \(listed.count) records where reading on gives \(records.count)")
    }
    if end - start <= 64 {
        for offset in start..<end { _ = try? log.read(from: offset, maxBytes: 100) }
    }
    for timestamp in [Int64.min, 0, 1_700_000_000_000, Int64.max] { _ = try? log.offset(forTimestamp: timestamp) }
    _ = log.segmentInfos
    return records
}

func test(_ input: inout FuzzInput) throws {
    let flags = input.byte()
    var firstBase: Int64 = 0
    if flags & 128 != 0 {
        firstBase = input.pick([
            Int64(Int32.max) - 1, Int64(UInt32.max) - 1, Int64(UInt32.max) + 7, Int64.max - 1, Int64.max - 10,
            Int64.max - 1_000,
        ])
    }
    var split: Int?
    var secondBase: UInt8 = 0
    if flags & 4 != 0 {
        split = Int(input.integer(UInt16.self))
        secondBase = input.byte()
    }
    var index: [UInt8]?
    var timeIndex: [UInt8]?
    if flags & 2 != 0 {
        index = input.take(Int(input.integer(UInt16.self)))
        timeIndex = input.take(Int(input.integer(UInt16.self)))
    }
    var log = input.rest()
    if flags & 128 != 0 { Batches.rebase(&log, from: firstBase) }
    if flags & 1 != 0 { Batches.fixCRCs(&log) }

    Shared.scratch.empty()
    let directory = Shared.scratch.file("topic-0")
    try FileSystem.createDirectory(directory)
    func name(_ base: Int64, _ ext: String) -> String {
        let digits = String(base)
        return directory + "/" + String(repeating: "0", count: 20 - digits.count) + digits + "." + ext
    }
    if let split {
        let first = Array(log[..<(split % (log.count + 1))])
        let active = Array(log[first.count...])
        let base = secondBase == 0 ? endOffset(of: first) : Int64(secondBase)
        guard base >= 0 else { return }
        try ScratchDirectory.write(first, to: name(firstBase, "log"))
        try ScratchDirectory.write(active, to: name(base, "log"))
    } else {
        try ScratchDirectory.write(log, to: name(firstBase, "log"))
    }
    if let index { try ScratchDirectory.write(index, to: name(firstBase, "index")) }
    if let timeIndex { try ScratchDirectory.write(timeIndex, to: name(firstBase, "timeindex")) }

    var config = LogConfig()
    config.flush = .os
    config.segmentBytes = flags & 16 != 0 ? 200 : 1 << 20
    config.maxBatchBytes = flags & 32 != 0 ? 300 : 1 << 20
    config.indexIntervalBytes = flags & 64 != 0 ? 64 : 4096

    if flags & 8 != 0, let reader = try? PartitionLog.open(directory: directory, readOnly: true, logger: Shared.quiet) {
        _ = exercise(reader)
        try? reader.refresh()
        try? reader.close()
    }
    guard let opened = try? PartitionLog.open(directory: directory, config: config, logger: Shared.quiet) else {
        return
    }
    let before = exercise(opened)
    let end = opened.endOffset
    var batch = try Batches.build(count: 2, seed: UInt64(flags), timestamp: Batches.timestamp)
    let appended: PartitionLog.AppendResult
    do {
        appended = try opened.append(&batch)
    } catch {
        // An append whose offsets would pass Int64.max is refused; nothing else may fail.
        require(end > Int64.max - 1_000, "append to a recovered log failed: \(error)")
        return
    }
    require(appended.baseOffset == end, "the append got offset \(appended.baseOffset), the log ended at \(end)")
    try opened.close()

    let reopened: PartitionLog
    do {
        reopened = try PartitionLog.open(directory: directory, config: config, logger: Shared.quiet)
    } catch {
        require(false, "a log that opened, took an append and closed does not open again: \(error)")
        return
    }
    require(reopened.endOffset == appended.lastOffset + 1, "end offset \(reopened.endOffset) after reopening")
    let after = exercise(reopened)
    if let before {
        guard let after else {
            require(false, "records read before the append no longer read after reopening")
            return
        }
        // `append` set the batch's base offset.
        let expected = try RecordBatchDecoder.decode(batch).records
        require(
            after == before + expected,
            "reopening changed the records: offsets \(before.map(\.offset)) + \(expected.map(\.offset)) → "
                + "\(after.map(\.offset)); segments \(reopened.segmentInfos)")
    }
    try reopened.close()
}

/// Real segments written by `PartitionLog`, with and without their index files, whole, split in two
/// and torn.
func seeds() throws -> [(name: String, bytes: [UInt8])] {
    let directory = Shared.scratch.file("seed")
    var config = LogConfig()
    config.flush = .os
    config.indexIntervalBytes = 64
    let log = try PartitionLog.open(directory: directory, config: config, logger: Shared.quiet)
    var boundaries: [Int] = []
    for i in 0..<6 {
        var batch = try Batches.build(count: 1 + i % 3, seed: UInt64(i), compression: i == 4 ? .gzip : .none)
        _ = try log.append(&batch)
        boundaries.append(Int(log.sizeInBytes))
    }
    try log.close()
    let segment = try FileSystem.readFile(directory + "/00000000000000000000.log")
    let index = try FileSystem.readFile(directory + "/00000000000000000000.index")
    let timeIndex = try FileSystem.readFile(directory + "/00000000000000000000.timeindex")
    func length(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count & 0xFF), UInt8(bytes.count >> 8)] }
    let indexes = length(index) + index + length(timeIndex) + timeIndex
    let cut = boundaries[2]
    return [
        ("segment", [0] + segment),
        ("segment-indexed", [2 | 64] + indexes + segment),
        ("two-segments", [4] + length(Array(repeating: 0, count: cut)) + [0] + segment),
        ("two-segments-indexed", [6 | 8] + length(Array(repeating: 0, count: cut)) + [0] + indexes + segment),
        ("torn", [16] + segment.dropLast(7)),
        ("crc-fixed", [1 | 32] + segment),
        ("empty", [0]),
        ("near-uint32-max", [128 | 64, 1] + segment),
        ("near-int64-max", [128 | 16, 3] + segment),
        ("near-int64-max-indexed", [128 | 2, 5] + indexes + segment),
    ]
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    do {
        try test(&input)
    } catch {
        fatalError("the harness failed: \(error)")
    }
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
