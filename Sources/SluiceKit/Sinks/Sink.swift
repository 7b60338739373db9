import Logging
import SluiceCore

/// A sink connector: writes batches of records somewhere and makes them durable on request.
///
/// The runtime runs each sink task on its own thread, never on Swift's cooperative pool, so a sink
/// may block on files or network calls; one instance serves one task and is called from one thread.
/// The loop is: `write` a batch, `flush` it, and only then are its offsets committed. If `write` or
/// `flush` throws a transient error, the runtime calls `abort` and writes the same batch again after
/// a backoff; a fatal error stops the pipeline. Records a sink cannot deliver are returned by
/// `write` as failures and go to the sink's dead-letter topic; the rest of the batch goes on.
public protocol Sink: AnyObject {
    /// The task now owns `partitions`, and will deliver each from the offset given (its group's
    /// committed offset). Anything left over from an earlier, uncommitted attempt at or after that
    /// offset may be discarded here.
    func open(partitions: [TopicPartition: Int64]) throws

    /// As `open(partitions:)`, with, per partition, the highest offset its group ever committed there
    /// (absent when unknown: it never committed, or its offsets were deleted with the topic). Output
    /// for offsets at or above it comes from attempts that were never committed and may be discarded;
    /// output below it was committed, perhaps before a reset moved the group back, and must only be
    /// replaced by output written anew, never removed ahead of it.
    ///
    /// Returns, for partitions where the sink needs records from before the offset given (to write a
    /// file whole that a reset cut through), the offset to deliver from instead; the runtime does so
    /// while those records are still stored. The default calls `open(partitions:)` and returns none.
    func open(partitions: [TopicPartition: Int64], committedBefore: [TopicPartition: Int64]) throws
        -> [TopicPartition: Int64]

    /// The task gives `partitions` up (a rebalance or the end of the run). What was written for them
    /// and not yet flushed may be dropped.
    func close(partitions: Set<TopicPartition>) throws

    /// Writes a batch. Returns the records that cannot be delivered (record errors); every other record
    /// is written, to be made durable by `flush`. Throws `ConnectorError` (transient or fatal) when the
    /// batch as a whole cannot be written.
    func write(_ batch: SinkBatch) throws -> [RecordFailure]

    /// Makes everything written since the last flush durable. Throws transient or fatal errors.
    func flush() throws

    /// Drops everything written since the last flush, after a failure, so the batch can be written again.
    func abort()

    /// Releases connections and files at the end of the task.
    func stop()

    /// Asks a blocking `write` or `flush` to end as soon as it can, because the run is stopping.
    ///
    /// The only call that comes from another thread (the one that handles the stop), possibly while
    /// `write` or `flush` runs: a sink cancels what it waits on (a running statement, a connection
    /// attempt) and that call then throws. Nothing written since the last flush may be made durable
    /// after an interrupt. The default does nothing, for sinks whose calls never block for long.
    func interrupt()
    /// Where the sink writes, for people: `table public.orders`, `folder out/orders`. Nil by default.
    var destination: String? { get }
    /// What the last successful `flush` made durable, for sinks that can tell rows inserted from rows
    /// updated (an upsert); nil for the others, whose written records are simply written.
    var flushedCounts: SinkWriteCounts? { get }
}

/// Rows a flush made durable, by what happened to them. With an upsert that leaves a row as it was
/// (no column but the key), a record is neither inserted nor updated.
public struct SinkWriteCounts: Sendable, Equatable {
    public var inserted = 0
    public var updated = 0
    /// Rows deleted by tombstones.
    public var deleted = 0

    public init(inserted: Int = 0, updated: Int = 0, deleted: Int = 0) {
        self.inserted = inserted
        self.updated = updated
        self.deleted = deleted
    }

    public static func + (a: SinkWriteCounts, b: SinkWriteCounts) -> SinkWriteCounts {
        SinkWriteCounts(
            inserted: a.inserted + b.inserted, updated: a.updated + b.updated, deleted: a.deleted + b.deleted)
    }
}

extension Sink {
    public func interrupt() {}

    public var destination: String? { nil }

    public var flushedCounts: SinkWriteCounts? { nil }

    public func open(partitions: [TopicPartition: Int64], committedBefore: [TopicPartition: Int64]) throws
        -> [TopicPartition: Int64]
    {
        try open(partitions: partitions)
        return [:]
    }
}

/// What a sink task is given when it opens.
public struct SinkContext: Sendable {
    /// The sink's name in the config.
    public let name: String
    /// 0-based index of this task among the sink's tasks.
    public let task: Int
    /// The consumer group the sink's tasks share.
    public let group: String
    public let options: ConnectorOptions
    /// The topics the sink reads.
    public let topics: [String]
    /// What the sources declared about each topic's values, when a source writes it.
    public let schemas: [String: TopicSchema]
    public let logger: Logger

    public init(
        name: String,
        task: Int,
        group: String = "",
        options: ConnectorOptions,
        topics: [String],
        schemas: [String: TopicSchema] = [:],
        logger: Logger
    ) {
        self.name = name
        self.task = task
        self.group = group
        self.options = options
        self.topics = topics
        self.schemas = schemas
        self.logger = logger
    }
}

/// Records for a sink, grouped by partition in offset order; one partition may come in several
/// consecutive chunks.
public struct SinkBatch: Sendable {
    public var partitions: [PartitionRecords]

    public init(partitions: [PartitionRecords]) {
        self.partitions = partitions
    }

    public var count: Int { partitions.reduce(0) { $0 + $1.records.count } }
}

/// A record a sink could not deliver, and why.
public struct RecordFailure: Sendable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    public var error: ConnectorError

    public init(topicPartition: TopicPartition, offset: Int64, error: ConnectorError) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.error = error
    }
}

/// What a source declared about the values it writes to a topic: the types of columns (others are
/// strings) and the key columns. Sinks use it to create tables. Stored with the topic, so a later run
/// without the source still has it.
public struct TopicSchema: Sendable, Equatable {
    public var types: [String: ColumnType]
    public var key: [String]

    public init(types: [String: ColumnType], key: [String]) {
        self.types = types
        self.key = key
    }

    public var json: JSONValue {
        .object([
            (
                "types",
                .object(types.keys.sorted().compactMap { name in types[name].map { (name, .string($0.rawValue)) } })
            ),
            ("key", .array(key.map { .string($0) })),
        ])
    }

    public init?(json: JSONValue) {
        guard case .object(let types)? = json["types"], case .array(let key)? = json["key"] else { return nil }
        var map: [String: ColumnType] = [:]
        for (name, value) in types {
            guard let text = value.stringValue, let type = ColumnType(rawValue: text) else { return nil }
            map[name] = type
        }
        self.types = map
        self.key = key.compactMap(\.stringValue)
    }
}

/// Makes a sink for one task.
public typealias SinkFactory = @Sendable (SinkContext) throws -> any Sink
