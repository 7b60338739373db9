import Glibc
import SluiceLog

/// Bugs the harnesses found that are reported but not fixed yet. A harness steps around an input
/// that would only find one of them again, so that a run keeps looking for new ones; set
/// `FUZZ_INCLUDE_KNOWN=1` to stop stepping around them (to check a fix, say). Each one has a
/// disabled regression test, named here.
public enum Known {
    public static let stepAround = getenv("FUZZ_INCLUDE_KNOWN") == nil

    /// `RollPolicy.shouldRoll` computes `now - rollTimestamp` and `batchTimestamp - rollTimestamp`,
    /// which trap when the active segment's first batch has a timestamp near `Int64.min`
    /// (FuzzRegressionTests.appendAfterABatchStampedNearInt64MinDoesNotCrash).
    public static func rollOverflows(firstMaxTimestamp: Int64, batchTimestamp: Int64, now: Int64) -> Bool {
        now.subtractingReportingOverflow(firstMaxTimestamp).overflow
            || batchTimestamp.subtractingReportingOverflow(firstMaxTimestamp).overflow
    }

    /// Offsets are not kept below `Int64.max`: recovery accepts batches whose offsets wrap, and an
    /// append near the top wraps them, after which a roll names a segment that the next open ignores
    /// (FuzzRegressionTests.offsetsNeverWrapPastInt64Max). True for an end offset where that happens.
    public static func offsetsWrap(endOffset: Int64) -> Bool {
        endOffset < 0 || endOffset > Int64.max - 1_000_000
    }

    /// Whether a batch found by walking the lengths of `bytes` has offsets that pass `Int64.max`, which
    /// recovery takes as a continuation and then traps on
    /// (FuzzRegressionTests.segmentWhoseOffsetsWrapDoesNotCrashRecovery).
    public static func batchesWrap(_ bytes: [UInt8]) -> Bool {
        var position = 0
        return bytes.withUnsafeBytes { raw in
            while raw.count - position >= RecordBatchHeader.size {
                let header = RecordBatchHeader(raw, at: position)
                if header.baseOffset.addingReportingOverflow(Int64(header.lastOffsetDelta) + 1).overflow { return true }
                guard header.totalSize >= RecordBatchHeader.size, header.totalSize <= raw.count - position else {
                    return false
                }
                position += header.totalSize
            }
            return false
        }
    }
}
