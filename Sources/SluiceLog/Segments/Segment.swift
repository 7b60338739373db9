import SluiceCore

/// One segment of a partition: a `.log` file of whole batches and its indexes.
///
/// Owned by its `PartitionLog`; every mutating call happens under the log's lock. Readers may call
/// `read` without the lock for byte ranges below a `size` they saw under it: the file only grows at
/// its end, and the object keeps the descriptor open for as long as a reader holds it.
final class Segment: @unchecked Sendable {
    let baseOffset: Int64
    let directory: String
    let logPath: String
    let file: SystemFile
    let index: SegmentIndex
    /// Bytes of whole, valid batches.
    private(set) var size: Int64
    /// The offset the next batch will get.
    private(set) var nextOffset: Int64
    /// The largest record timestamp in the segment, or -1 when it is empty.
    private(set) var maxTimestamp: Int64
    /// The max timestamp of the segment's first batch, which `segment_ms` counts from.
    private(set) var rollTimestamp: Int64?
    private var bytesSinceIndexEntry: Int64 = 0

    /// `00000000000000001234.log` for base offset 1234 and extension `log`.
    static func fileName(_ baseOffset: Int64, _ ext: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + ext
    }

    /// The base offset named by a segment file name, or nil when the name is not one.
    static func baseOffset(fromFileName name: String, ext: String) -> Int64? {
        let suffix = "." + ext
        guard name.hasSuffix(suffix), name.utf8.count == 20 + suffix.utf8.count else { return nil }
        let digits = name.dropLast(suffix.count)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(digits)
    }

    private init(directory: String, baseOffset: Int64, file: SystemFile, size: Int64) {
        self.directory = directory
        self.baseOffset = baseOffset
        logPath = directory + "/" + Segment.fileName(baseOffset, "log")
        self.file = file
        self.size = size
        nextOffset = baseOffset
        maxTimestamp = -1
        index = SegmentIndex(directory: directory, baseOffset: baseOffset)
    }

    /// Creates an empty segment (and its index files) starting at `baseOffset`.
    static func create(directory: String, baseOffset: Int64) throws -> Segment {
        let path = directory + "/" + fileName(baseOffset, "log")
        let file = try SystemFile.open(path, .readWriteCreate)
        try file.truncate(to: 0)
        let segment = Segment(directory: directory, baseOffset: baseOffset, file: file, size: 0)
        try segment.index.replace(offsets: [], times: [], persist: true)
        return segment
    }

    /// What opening a segment found wrong and mended.
    struct Repair {
        /// Why the torn tail was cut, where, and how many bytes were cut, when it was.
        var truncation: (reason: String, position: Int64, bytes: Int64)?
        var indexRebuilt = false
    }

    /// Opens an existing segment. A closed segment trusts its batches and checks its index; the active
    /// one (`verify`) is read batch by batch with CRCs, and a torn tail is cut off unless `readOnly`.
    /// Corruption (see `SegmentScanner`) throws `corrupt` and leaves the file as it is; a closed
    /// segment is never modified, only its index files are rebuilt.
    static func open(
        directory: String,
        baseOffset: Int64,
        verify: Bool,
        readOnly: Bool,
        indexIntervalBytes: Int
    ) throws -> (Segment, Repair) {
        let path = directory + "/" + fileName(baseOffset, "log")
        let file = try SystemFile.open(path, readOnly ? .readOnly : .readWrite)
        let fileSize = try file.size()
        let segment = Segment(directory: directory, baseOffset: baseOffset, file: file, size: fileSize)
        var repair = Repair()
        let indexValid = segment.index.load(logSize: fileSize)
        if verify || !indexValid || !segment.indexMatchesLog() {
            let scan = try SegmentScanner.scan(
                file: file,
                baseOffset: baseOffset,
                fileSize: fileSize,
                verifyCRC: verify,
                indexIntervalBytes: indexIntervalBytes
            )
            if let problem = scan.problem {
                guard verify && problem.kind == .tornTail else {
                    throw LogError(.corrupt, Self.corruptionMessage(path, problem, scan.validEnd, closed: !verify))
                }
                repair.truncation = (problem.reason, scan.validEnd, fileSize - scan.validEnd)
                if !readOnly {
                    // Kept beside the segment, in case the bytes were ever needed: a cut is never undone.
                    let cut = try file.read(at: scan.validEnd, count: Int(fileSize - scan.validEnd))
                    try FileSystem.writeAtomically(path + ".torn", cut)
                    try file.truncate(to: scan.validEnd)
                }
            }
            segment.size = scan.validEnd
            segment.nextOffset = scan.nextOffset
            segment.maxTimestamp = scan.maxTimestamp
            segment.rollTimestamp = scan.firstMaxTimestamp
            segment.bytesSinceIndexEntry = scan.bytesSinceLastEntry
            let rebuilt = !indexValid || scan.offsets != segment.index.offsets || scan.times != segment.index.times
            if rebuilt { try segment.index.replace(offsets: scan.offsets, times: scan.times, persist: !readOnly) }
            repair.indexRebuilt = rebuilt && indexValid && !verify
            if !indexValid { repair.indexRebuilt = true }
        } else {
            try segment.loadSummaryFromIndex()
        }
        return (segment, repair)
    }

    /// What a user reads when a segment is corrupt: the file, the damage, and what to do.
    static func corruptionMessage(_ path: String, _ problem: SegmentScanner.Problem, _ validEnd: Int64, closed: Bool)
        -> String
    {
        "\(path) is corrupt: \(problem.reason)\(closed ? " (a closed segment)" : ""). Nothing was changed: cutting it "
            + "would lose what follows byte \(validEnd). Restore the partition's folder from "
            + "a backup; or, to give those records up, cut the file at byte \(validEnd) "
            + "(truncate -s \(validEnd) \(path))\(closed ? " and remove the segments after it" : "") and run again"
    }

    /// Checks the last index entry against the log: a batch with that base offset must start there.
    private func indexMatchesLog() -> Bool {
        guard let last = index.offsets.last else { return size == 0 }
        guard let header = try? readHeader(at: Int64(last.position)) else { return false }
        return header.baseOffset == baseOffset + Int64(last.relativeOffset)
            && header.problem(maxBatchBytes: Int(Int32.max)) == nil
            && Int64(last.position) + Int64(header.totalSize) <= size
    }

    /// Sets next offset and timestamps of a closed segment from its index and last batches.
    private func loadSummaryFromIndex() throws {
        var position = Int64(index.offsets.last?.position ?? 0)
        var first = true
        while position < size {
            let header = try readHeader(at: position)
            if first && position == 0 { rollTimestamp = header.maxTimestamp }
            first = false
            nextOffset = header.nextOffset
            maxTimestamp = max(maxTimestamp, header.maxTimestamp)
            position += Int64(header.totalSize)
        }
        if let lastTime = index.times.last { maxTimestamp = max(maxTimestamp, lastTime.timestamp) }
        if rollTimestamp == nil, size > 0 { rollTimestamp = try readHeader(at: 0).maxTimestamp }
    }

    /// For a read-only segment that another process appends to: reads the whole batches written after
    /// `size` and takes them in. Returns whether anything new arrived.
    func catchUp(indexIntervalBytes: Int) throws -> Bool {
        let fileSize = try file.size()
        guard fileSize > size else { return false }
        var start = SegmentScanner.Result(nextOffset: nextOffset)
        start.validEnd = size
        start.maxTimestamp = maxTimestamp
        start.firstMaxTimestamp = rollTimestamp
        start.offsets = index.offsets
        start.times = index.times
        start.bytesSinceLastEntry = bytesSinceIndexEntry
        let scan = try SegmentScanner.scan(
            file: file,
            baseOffset: baseOffset,
            fileSize: fileSize,
            verifyCRC: true,
            indexIntervalBytes: indexIntervalBytes,
            resuming: start
        )
        guard scan.validEnd > size else { return false }
        size = scan.validEnd
        nextOffset = scan.nextOffset
        maxTimestamp = scan.maxTimestamp
        rollTimestamp = scan.firstMaxTimestamp
        bytesSinceIndexEntry = scan.bytesSinceLastEntry
        try index.replace(offsets: scan.offsets, times: scan.times, persist: false)
        return true
    }

    func readHeader(at position: Int64) throws -> RecordBatchHeader {
        let bytes = try file.read(at: position, count: RecordBatchHeader.size)
        guard bytes.count == RecordBatchHeader.size else {
            throw LogError(.corrupt, "\(logPath): batch header at byte \(position) is cut short")
        }
        let header = bytes.withUnsafeBytes { RecordBatchHeader($0) }
        // Callers step from batch to batch by this length: one that does not move forward would loop.
        guard header.totalSize >= RecordBatchHeader.size else {
            throw LogError(.corrupt, "\(logPath): batch at byte \(position) has a bad length (\(header.batchLength))")
        }
        return header
    }

    /// Appends one whole batch whose base offset is already set to `nextOffset`.
    func append(_ batch: UnsafeRawBufferPointer, header: RecordBatchHeader, indexIntervalBytes: Int) throws {
        let position = size
        do {
            try file.write(batch, at: position)
        } catch {
            try? file.truncate(to: position)
            throw error
        }
        if size == 0 { rollTimestamp = header.maxTimestamp }
        if position == 0 || bytesSinceIndexEntry >= Int64(indexIntervalBytes) {
            // An open that found the index right leaves its files closed: open them on first use.
            try index.openForAppend()
            let maxSoFar = max(maxTimestamp, header.maxTimestamp)
            try index.add(batchBaseOffset: header.baseOffset, position: position, maxTimestamp: maxSoFar)
            bytesSinceIndexEntry = 0
        }
        bytesSinceIndexEntry += Int64(batch.count)
        size += Int64(batch.count)
        nextOffset = header.nextOffset
        maxTimestamp = max(maxTimestamp, header.maxTimestamp)
    }

    /// The position of the first batch that holds `offset` or a later one, or `size` when none does.
    func position(ofBatchContaining offset: Int64) throws -> Int64 {
        var position = index.position(atOrBefore: offset)
        while position < size {
            let header = try readHeader(at: position)
            if header.lastOffset >= offset { return position }
            position += Int64(header.totalSize)
        }
        return size
    }

    /// Reads whole batches starting at `position`: as many as fit in `maxBytes`, and always at least
    /// one, so that a batch larger than `maxBytes` still makes progress. `limit` is a size seen under
    /// the log's lock.
    func readBatches(at position: Int64, maxBytes: Int, limit: Int64) throws -> [UInt8] {
        guard position < limit else { return [] }
        let available = Int(limit - position)
        var bytes = try file.read(at: position, count: min(max(maxBytes, RecordBatchHeader.size), available))
        var end = 0
        while bytes.count - end >= RecordBatchHeader.size {
            let header = bytes.withUnsafeBytes { RecordBatchHeader($0, at: end) }
            let total = header.totalSize
            guard total >= RecordBatchHeader.size else {
                throw LogError(.corrupt, "\(logPath): bad batch length at byte \(position + Int64(end))")
            }
            if end + total > bytes.count {
                if end == 0 {
                    guard total <= available else {
                        throw LogError(.corrupt, "\(logPath): batch at byte \(position) runs past the segment end")
                    }
                    bytes = try file.read(at: position, count: total)
                    end = total
                }
                break
            }
            end += total
        }
        if end < bytes.count { bytes.removeLast(bytes.count - end) }
        return bytes
    }

    /// Makes everything written so far durable.
    func sync() throws {
        let started = Time.monotonicNanos()
        try file.syncData()
        SyncTiming.record(Time.monotonicNanos() - started)
    }

    /// Stops taking appends: flushes index files and drops their descriptors.
    func close() {
        index.closeFiles()
    }

    /// Removes the segment's files.
    func delete() throws {
        try index.deleteFiles()
        try FileSystem.removeFile(logPath + ".torn")
        try FileSystem.removeFile(logPath)
    }
}
