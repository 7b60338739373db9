import Glibc

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
}
