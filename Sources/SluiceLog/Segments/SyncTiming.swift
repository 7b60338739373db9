import SluiceCore

/// Where the logs report how long each fsync of a segment took: the daemon turns it into a metric
/// (`sluice_log_fsync_duration_seconds`). Nothing is reported until someone listens.
public enum SyncTiming {
    private static let listener = Locked<(@Sendable (UInt64) -> Void)?>(nil)

    /// Sets the function told each fsync's duration in nanoseconds (from any thread).
    public static func listen(_ body: (@Sendable (UInt64) -> Void)?) {
        listener.withLock { $0 = body }
    }

    static func record(_ nanoseconds: UInt64) {
        listener.withLock { $0 }?(nanoseconds)
    }
}
