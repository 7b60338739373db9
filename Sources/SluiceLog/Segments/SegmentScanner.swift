import SluiceCore

/// Walks the batches of a segment file from its start, checking each one, and reports where the valid
/// part ends, what the indexes should hold, and, when the walk stopped early, whether what follows is
/// a torn tail or corruption.
///
/// A torn tail is what an interrupted append leaves and nothing else: fewer bytes than a batch header,
/// a batch whose header announces more bytes than the file holds, or bytes that cannot be the start of
/// a batch (a length below a header's), with no valid batch anywhere after them. Everything else is
/// corruption: a complete batch that fails its CRC or any other check, a batch at an unexpected offset,
/// or damage followed by valid batches. A torn tail may be cut off; corruption never is.
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
                result.problem = Problem(kind: .tornTail, reason: "a torn batch header of \(remaining) bytes")
                break
            }
            if position + Int64(RecordBatchHeader.size) > bufferStart + Int64(buffer.count) {
                bufferStart = position
                buffer = try file.read(at: position, count: Int(min(Int64(chunkSize), remaining)))
            }
            let header = buffer.withUnsafeBytes { RecordBatchHeader($0, at: Int(position - bufferStart)) }
            let total = Int64(header.totalSize)
            if Int(header.batchLength) < RecordBatchHeader.size - RecordBatchHeader.logOverhead || total > remaining {
                // What an interrupted append leaves, unless valid batches follow.
                let reason =
                    total > remaining
                    ? "a torn batch of \(remaining) bytes where its header announces \(total)"
                    : "\(remaining) bytes that do not start a batch (length \(header.batchLength))"
                if let later = try firstValidBatch(in: file, after: position, fileSize: fileSize) {
                    result.problem = Problem(
                        kind: .corrupt,
                        reason: "a damaged batch at byte \(position) (\(reason)) with a valid batch after it "
                            + "at byte \(later)")
                } else {
                    result.problem = Problem(kind: .tornTail, reason: reason)
                }
                break
            }
            if let problem = header.problem(maxBatchBytes: Int(Int32.max)) {
                result.problem = Problem(
                    kind: .corrupt, reason: "a corrupt batch header at byte \(position) (\(problem))")
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
