import SluiceCore

/// Walks the batches of a segment file from its start, checking each one, and reports where the valid
/// part ends and what the indexes should hold.
enum SegmentScanner {
    struct Result {
        var validEnd: Int64 = 0
        var nextOffset: Int64
        var maxTimestamp: Int64 = -1
        var firstMaxTimestamp: Int64?
        var offsets: [SegmentIndex.OffsetEntry] = []
        var times: [SegmentIndex.TimeEntry] = []
        var bytesSinceLastEntry: Int64 = 0
        /// Why the scan stopped before the end of the file, when it did.
        var problem: String?
    }

    static let chunkSize = 8 << 20

    static func scan(
        file: SystemFile,
        baseOffset: Int64,
        fileSize: Int64,
        verifyCRC: Bool,
        maxBatchBytes: Int,
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
                result.problem = "a torn batch header of \(remaining) bytes"
                break
            }
            if position + Int64(RecordBatchHeader.size) > bufferStart + Int64(buffer.count) {
                bufferStart = position
                buffer = try file.read(at: position, count: Int(min(Int64(chunkSize), remaining)))
            }
            let header = buffer.withUnsafeBytes { RecordBatchHeader($0, at: Int(position - bufferStart)) }
            if let problem = header.problem(maxBatchBytes: maxBatchBytes) {
                result.problem = "a corrupt batch header (\(problem))"
                break
            }
            let total = Int64(header.totalSize)
            guard total <= remaining else {
                result.problem = "a torn batch of \(remaining) bytes where its header announces \(total)"
                break
            }
            guard header.baseOffset == result.nextOffset else {
                result.problem = "a batch with base offset \(header.baseOffset) where \(result.nextOffset) was expected"
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
                    result.problem = "a batch at offset \(header.baseOffset) that fails its CRC check"
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
}
