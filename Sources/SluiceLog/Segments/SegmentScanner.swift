import SluiceCore

/// Walks the batches of a segment file from its start, checking each one, and reports where the valid
/// part ends, what the indexes should hold, and, when the walk stopped early, whether what follows is
/// a torn tail or corruption.
///
/// A torn tail is what an interrupted append can leave, and nothing else: a prefix of the batch that
/// was being written (its base offset the one expected next, a length that runs past the end of the
/// file, magic 2 once those bytes are there), or zeros (a file system that extended the file before
/// the data reached it), with no valid batch anywhere after. Everything else is corruption: a complete
/// batch that fails its CRC or any other check, a batch at an unexpected offset, a length no append
/// writes, bytes that cannot be the start of the next batch, a "torn" batch whose bytes make a valid
/// batch once its length is corrected, or damage followed by valid batches. A torn tail may be cut off;
/// corruption never is.
enum SegmentScanner {
    /// Why a scan stopped before the end of the file.
    struct Problem: Equatable {
        enum Kind: Equatable {
            case tornTail
            case corrupt
        }

        var kind: Kind
        var reason: String
    }

    struct Result {
        var validEnd: Int64 = 0
        var nextOffset: Int64
        var maxTimestamp: Int64 = -1
        var firstMaxTimestamp: Int64?
        var offsets: [SegmentIndex.OffsetEntry] = []
        var times: [SegmentIndex.TimeEntry] = []
        var bytesSinceLastEntry: Int64 = 0
        /// Why the scan stopped before the end of the file, when it did.
        var problem: Problem?
    }

    static let chunkSize = 8 << 20

    /// Scans from `start.validEnd` (the file's start without `start`). `verifyCRC` checks every batch's
    /// CRC; without it only headers, lengths and offsets are checked.
    static func scan(
        file: SystemFile,
        baseOffset: Int64,
        fileSize: Int64,
        verifyCRC: Bool,
        indexIntervalBytes: Int,
        resuming start: Result? = nil
    ) throws -> Result {
        var result = start ?? Result(nextOffset: baseOffset)
        result.problem = nil
        var buffer: [UInt8] = []
        var bufferStart: Int64 = 0
        var position: Int64 = result.validEnd
        while position < fileSize {
            let remaining = fileSize - position
            guard remaining >= Int64(RecordBatchHeader.size) else {
                result.problem = try classifyTail(
                    file: file, at: position, fileSize: fileSize, expectedOffset: result.nextOffset)
                break
            }
            if position + Int64(RecordBatchHeader.size) > bufferStart + Int64(buffer.count) {
                bufferStart = position
                buffer = try file.read(at: position, count: Int(min(Int64(chunkSize), remaining)))
            }
            let header = buffer.withUnsafeBytes { RecordBatchHeader($0, at: Int(position - bufferStart)) }
            let total = Int64(header.totalSize)
            if total > remaining || Int(header.batchLength) < RecordBatchHeader.size - RecordBatchHeader.logOverhead {
                result.problem = try classifyTail(
                    file: file, at: position, fileSize: fileSize, expectedOffset: result.nextOffset)
                break
            }
            if let problem = header.problem(maxBatchBytes: Int(Int32.max)) {
                result.problem = Problem(
                    kind: .corrupt, reason: "a corrupt batch header at byte \(position) (\(problem))")
                break
            }
            let (last, wrapped) = header.baseOffset.addingReportingOverflow(Int64(header.lastOffsetDelta))
            guard !wrapped, last < Int64.max, last - baseOffset <= Int64(UInt32.max) else {
                result.problem = Problem(
                    kind: .corrupt,
                    reason:
                        "a batch at byte \(position) whose offsets (from \(header.baseOffset), \(header.lastOffsetDelta) "
                        + "more) do not fit its segment")
                break
            }
            guard header.baseOffset == result.nextOffset else {
                result.problem = Problem(
                    kind: .corrupt,
                    reason: "a batch at byte \(position) with base offset \(header.baseOffset) where "
                        + "\(result.nextOffset) was expected")
                break
            }
            if verifyCRC {
                if position + total > bufferStart + Int64(buffer.count) {
                    bufferStart = position
                    buffer = try file.read(at: position, count: Int(min(max(Int64(chunkSize), total), remaining)))
                }
                let crc = buffer.withUnsafeBytes {
                    RecordBatch.computeCRC($0, at: Int(position - bufferStart), totalSize: Int(total))
                }
                guard crc == header.crc else {
                    result.problem = Problem(
                        kind: .corrupt,
                        reason: "the batch at byte \(position) (offsets \(header.baseOffset) to "
                            + "\(header.lastOffset)) fails its CRC check")
                    break
                }
            }
            if position == 0 || result.bytesSinceLastEntry >= Int64(indexIntervalBytes) {
                let relative = UInt32(truncatingIfNeeded: header.baseOffset - baseOffset)
                result.offsets.append(.init(relativeOffset: relative, position: UInt32(truncatingIfNeeded: position)))
                let maxSoFar = max(result.maxTimestamp, header.maxTimestamp)
                if maxSoFar > (result.times.last?.timestamp ?? Int64.min) {
                    result.times.append(.init(timestamp: maxSoFar, relativeOffset: relative))
                }
                result.bytesSinceLastEntry = 0
            }
            if result.firstMaxTimestamp == nil { result.firstMaxTimestamp = header.maxTimestamp }
            result.bytesSinceLastEntry += total
            result.maxTimestamp = max(result.maxTimestamp, header.maxTimestamp)
            result.nextOffset = header.nextOffset
            position += total
            result.validEnd = position
        }
        return result
    }

    /// What the bytes from `position` to the end of the file are, when they do not hold a whole batch:
    /// a torn tail only when they can be what an interrupted append of the batch with `expectedOffset`
    /// left (see the type's comment).
    static func classifyTail(file: SystemFile, at position: Int64, fileSize: Int64, expectedOffset: Int64) throws
        -> Problem
    {
        let remaining = fileSize - position
        let head = try file.read(at: position, count: Int(min(remaining, Int64(RecordBatchHeader.size))))
        func corrupt(_ reason: String) -> Problem {
            Problem(kind: .corrupt, reason: "\(remaining) bytes at byte \(position) that \(reason)")
        }
        if head.allSatisfy({ $0 == 0 }) {
            // Zeros where the data never arrived; every byte of the tail must be zero.
            if try !isZero(file, from: position, to: fileSize) {
                return corrupt("start with zeros and then hold data")
            }
            return Problem(kind: .tornTail, reason: "\(remaining) zero bytes where an append never arrived")
        }
        // The bytes an append writes first: the base offset the log gave the batch, its length, magic 2.
        var expected = [UInt8](repeating: 0, count: 8)
        expected.withUnsafeMutableBytes { $0.storeBytes(of: expectedOffset.bigEndian, as: Int64.self) }
        guard head.prefix(8).elementsEqual(expected.prefix(head.count)) else {
            return corrupt("do not start the batch with offset \(expectedOffset) that would come next")
        }
        if head.count >= 12 {
            let length = head.withUnsafeBytes { Int64($0.bigEndian(at: 8, as: Int32.self)) }
            guard length >= Int64(RecordBatchHeader.size - RecordBatchHeader.logOverhead) else {
                return corrupt("announce a batch length of \(length), which no append writes")
            }
            guard length + Int64(RecordBatchHeader.logOverhead) > remaining else {
                return corrupt("hold a whole batch that fails its checks")
            }
            // A batch whose length field was damaged, not cut: its bytes are all there and check out.
            if remaining >= Int64(RecordBatchHeader.size) {
                let bytes = try file.read(at: position, count: Int(remaining))
                let whole = bytes.withUnsafeBytes { raw in
                    RecordBatch.computeCRC(raw, at: 0, totalSize: raw.count) == RecordBatchHeader(raw).crc
                }
                if whole { return corrupt("hold a whole batch whose length field is damaged") }
            }
        }
        if head.count > 16 && head[16] != UInt8(RecordBatchHeader.magic) {
            return corrupt("hold a batch header with magic byte \(head[16]), not 2")
        }
        if let later = try firstValidBatch(in: file, after: position, fileSize: fileSize) {
            return corrupt("are damaged, with a valid batch after them at byte \(later)")
        }
        return Problem(
            kind: .tornTail,
            reason: remaining < Int64(RecordBatchHeader.size)
                ? "a torn batch header of \(remaining) bytes"
                : "a torn batch of \(remaining) bytes where its header announces more")
    }

    /// Whether every byte of the file from `start` to `end` is zero.
    static func isZero(_ file: SystemFile, from start: Int64, to end: Int64) throws -> Bool {
        var position = start
        while position < end {
            let chunk = try file.read(at: position, count: Int(min(Int64(chunkSize), end - position)))
            guard !chunk.isEmpty, chunk.allSatisfy({ $0 == 0 }) else { return chunk.isEmpty }
            position += Int64(chunk.count)
        }
        return true
    }

    /// The position of the first whole batch that passes its checks and its CRC and starts after
    /// `position`, or nil. Looks at every byte position: only called where a scan stopped.
    static func firstValidBatch(in file: SystemFile, after position: Int64, fileSize: Int64) throws -> Int64? {
        let headerSize = Int64(RecordBatchHeader.size)
        var chunkStart = position + 1
        while chunkStart + headerSize <= fileSize {
            let chunk = try file.read(
                at: chunkStart, count: Int(min(Int64(chunkSize) + headerSize, fileSize - chunkStart)))
            let candidates = chunk.withUnsafeBytes { raw -> [(Int64, Int)] in
                var found: [(Int64, Int)] = []
                var i = 0
                while i + RecordBatchHeader.size <= raw.count && i < chunkSize {
                    if raw[i + 16] == UInt8(RecordBatchHeader.magic) {
                        let header = RecordBatchHeader(raw, at: i)
                        let total = Int64(header.totalSize)
                        if header.problem(maxBatchBytes: Int(Int32.max)) == nil
                            && chunkStart + Int64(i) + total <= fileSize
                        {
                            found.append((chunkStart + Int64(i), header.totalSize))
                        }
                    }
                    i += 1
                }
                return found
            }
            for (candidate, total) in candidates {
                let bytes = try file.read(at: candidate, count: total)
                guard bytes.count == total else { continue }
                let valid = bytes.withUnsafeBytes { raw in
                    RecordBatch.computeCRC(raw, at: 0, totalSize: total) == RecordBatchHeader(raw).crc
                }
                if valid { return candidate }
            }
            chunkStart += Int64(chunkSize)
        }
        return nil
    }
}
