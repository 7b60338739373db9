/// When a partition log makes its appends durable.
public enum FlushPolicy: Sendable, Equatable, CustomStringConvertible {
    /// fsync after every appended batch before `append` returns (the default).
    case everyBatch
    /// fsync at most this many milliseconds after an append, from a flusher.
    case interval(millis: Int64)
    /// Never fsync; the operating system writes when it chooses.
    case os

    public var description: String {
        switch self {
        case .everyBatch: return "batch"
        case .interval(let millis): return "interval (\(millis) ms)"
        case .os: return "os"
        }
    }
}

/// The storage settings of one partition log. Units are in the names, as in the config file.
public struct LogConfig: Sendable, Equatable {
    /// A segment is rolled when an append would take it past this size.
    public var segmentBytes: Int64 = 1 << 30
    /// A segment is rolled when its first batch is older than this, by the clock and by the timestamps of
    /// the batch being appended (see `RollPolicy`).
    public var segmentMs: Int64 = 7 * 24 * 3_600_000
    /// Closed segments whose newest record is older than this are deleted; -1 keeps them forever.
    public var retentionMs: Int64 = 7 * 24 * 3_600_000
    /// Oldest closed segments are deleted while the log is larger than this; -1 sets no limit.
    public var retentionBytes: Int64 = -1
    public var flush: FlushPolicy = .everyBatch
    /// Bytes of log between two offset-index entries.
    public var indexIntervalBytes: Int = 4096
    /// The largest batch the log accepts.
    public var maxBatchBytes: Int = 64 << 20

    public init() {}
}
