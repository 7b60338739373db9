import Logging
import SluiceCore

/// A source connector: reads its input and hands the runtime batches of records.
///
/// The runtime calls every method on the source's own thread, never on Swift's cooperative pool, so a
/// source may block on file reads. It calls `nextBatch` until it returns false; after each batch is
/// stored in the broker, the runtime stores `checkpoint()` with it. After a crash, a new instance is
/// opened with the last stored checkpoint and with the provenance of the records stored after it,
/// so that it can skip exactly those and neither duplicate nor lose a record.
public protocol Source: AnyObject {
    /// Fills `batch` with the next records (and dead letters); returns false at the end of the input,
    /// with `batch` possibly holding a last few records. Record errors go to `batch.deadLetters`;
    /// thrown errors stop the pipeline.
    func nextBatch(_ batch: inout SourceBatch) throws -> Bool

    /// The position after the last batch returned, as opaque bytes the runtime stores.
    func checkpoint() -> [UInt8]

    /// What the source has done so far, for progress and the summary. Safe to call from any thread.
    var progress: SourceProgress { get }

    /// Releases files and other resources.
    func close()
    /// Work that must wait until what the source read so far is durable in the broker (a file read to
    /// its end is deleted or moved away, `after_read`). The runtime takes it right after each
    /// `nextBatch`, on the same thread, and runs it once that batch and the checkpoint after it are
    /// flushed to disk; work that was never run (a crash) must be asked for again by the next instance.
    /// None by default.
    func takeActionsAfterDurable() -> [ActionAfterDurable]
}

extension Source {
    public func takeActionsAfterDurable() -> [ActionAfterDurable] { [] }
}

/// What a source does once its input up to a batch is durable in the broker.
public struct ActionAfterDurable: Sendable {
    /// What it does, for the log (`delete orders/2026-12-01.csv`).
    public var description: String
    /// Does it; false when it no longer applies (the file changed since), and nothing was done.
    public var run: @Sendable () throws -> Bool

    public init(_ description: String, run: @escaping @Sendable () throws -> Bool) {
        self.description = description
        self.run = run
    }
}

/// What a source is given when it opens.
public struct SourceContext: Sendable {
    /// The source's name in the config (`orders`).
    public let name: String
    public let options: ConnectorOptions
    public let logger: Logger
    /// The last checkpoint stored for this source, nil on its first run.
    public let checkpoint: [UInt8]?
    /// Headers of the records (and dead letters) this source stored after that checkpoint, in the order
    /// they were stored per partition: the source skips the input they came from.
    public let storedAfterCheckpoint: [[Header]]
    /// Whether the source is opened again and again until the pipeline stops (`sluice daemon`): input
    /// that matches nothing yet is no error, a later pass reads it.
    public let continuous: Bool
    /// Whether the run asks the source to stop: a source whose `nextBatch` may wait long for its input
    /// (an external connector) checks it while it waits, and returns what it has (true) when it holds.
    public let stopping: @Sendable () -> Bool

    public init(
        name: String,
        options: ConnectorOptions,
        logger: Logger,
        checkpoint: [UInt8]? = nil,
        storedAfterCheckpoint: [[Header]] = [],
        continuous: Bool = false,
        stopping: @escaping @Sendable () -> Bool = { false }
    ) {
        self.stopping = stopping
        self.name = name
        self.options = options
        self.logger = logger
        self.checkpoint = checkpoint
        self.storedAfterCheckpoint = storedAfterCheckpoint
        self.continuous = continuous
    }
}

/// One batch from a source: records for its topic and dead letters for its dead-letter topic.
public struct SourceBatch: Sendable {
    public var records: RecordBlock
    public var deadLetters: RecordBlock
    /// Input rows the batch covers (records plus dead letters plus skipped duplicates).
    public var inputRows = 0
    /// Input bytes the batch covers.
    public var inputBytes = 0

    public init(capacity: Int = 0, byteCapacity: Int = 0) {
        records = RecordBlock(capacity: capacity, byteCapacity: byteCapacity)
        deadLetters = RecordBlock()
    }

    public var isEmpty: Bool { records.isEmpty && deadLetters.isEmpty }

    public mutating func removeAll() {
        records.removeAll()
        deadLetters.removeAll()
        inputRows = 0
        inputBytes = 0
    }
}

/// A source's counters, for progress lines and the run summary.
public struct SourceProgress: Sendable, Equatable {
    public var files = 0
    public var filesDone = 0
    public var rowsRead = 0
    public var rowsDeadLettered = 0
    /// Rows skipped because they were stored before a crash.
    public var rowsSkipped = 0
    /// Files that end inside a row, held back until the row is complete (a writer may still append).
    public var filesHeldBack = 0
    public var bytesRead: Int64 = 0
    /// All bytes to read, when known.
    public var bytesTotal: Int64 = 0

    public init() {}
}
