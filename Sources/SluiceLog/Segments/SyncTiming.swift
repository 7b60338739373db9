import SluiceCore

/// Where the logs report how long each fsync of a segment took: the daemon turns it into a metric
/// (`sluice_log_fsync_duration_seconds`). Nothing is reported until someone listens.
public enum SyncTiming {
    /// The function is kept in a class: a closure stored directly in `Locked` is reabstracted on each
    /// `withLock` access and written back wrapped, so every fsync made the next call one layer deeper
    /// (a long-running daemon slowed down with each fsync, and would have run out of stack).
    private final class Listener: Sendable {
        let body: @Sendable (UInt64) -> Void
        init(_ body: @escaping @Sendable (UInt64) -> Void) { self.body = body }
    }

    private static let listener = Locked<Listener?>(nil)

    /// Sets the function told each fsync's duration in nanoseconds (from any thread).
    public static func listen(_ body: (@Sendable (UInt64) -> Void)?) {
        let listener = body.map(Listener.init)
        Self.listener.withLock { $0 = listener }
    }

    static func record(_ nanoseconds: UInt64) {
        listener.withLock { $0 }?.body(nanoseconds)
    }
}
