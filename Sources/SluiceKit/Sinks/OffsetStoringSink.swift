import SluiceCore

/// A sink that stores, in the same transaction as the records it writes, the offset each partition
/// continues from: delivery is then exactly-once, because a batch and the position after it become
/// durable together or not at all (`delivery: "exactly_once"` of the PostgreSQL sink).
///
/// The runtime asks for the stored positions when the task is given partitions and continues from
/// them, unless the group's offsets were reset after they were stored (`StoredPosition.resetAt`), and
/// stages the positions after each batch before `flush`. It still commits the group's offsets to the
/// broker after each flush, so that lag can be seen; those may lag behind the sink's own after a crash,
/// which is why a reset is told from a lag by its marker and not by its value.
public protocol OffsetStoringSink: Sink {
    /// Whether this instance stores its offsets (its config asked for exactly-once).
    var storesOffsets: Bool { get }
    /// Claims `partitions` of the group for this task and returns what the sink stored for them. The
    /// claim fences off any earlier owner: its `stage` fails from then on (and a claim waits for a
    /// commit in progress to end), so two tasks that both believe they own a partition, after an
    /// eviction, never both commit. A partition claimed for the first time keeps `deadLetterEnds` (the
    /// dead-letter topic's ends now) until a position is stored, so that the dead letters of attempts
    /// that never committed can be found. Called between batches.
    func storedPositions(_ partitions: Set<TopicPartition>, deadLetterEnds: [Int64]) throws -> ClaimedPositions
    /// What the sink holds for `partitions` now, without claiming them: after a failure, to learn
    /// whether the batch was committed after all, or whether the database lost commits.
    func currentPositions(_ partitions: Set<TopicPartition>) throws -> [TopicPartition: StoredPosition]
    /// Stores `positions` in the transaction the next `flush` commits, with the batch written since
    /// the last flush; `abort` drops them with it. Only where the sink still holds `replacing` (what
    /// the task last read or stored for each partition): a compare-and-set, so that a batch whose
    /// commit was acknowledged too late to be seen is never committed twice. Throws `SinkFenced` when
    /// another task claimed one of the partitions since this one did, or a position is not the one
    /// replaced.
    func stage(_ positions: [TopicPartition: StoredPosition], replacing: [TopicPartition: HeldPosition]) throws
}

/// What a sink holds for a partition, as far as a compare-and-set is concerned: the next offset (nil:
/// nothing stored yet) and the reset marker it follows.
public struct HeldPosition: Sendable, Equatable {
    public var offset: Int64?
    public var resetAt: Int64?

    public init(offset: Int64?, resetAt: Int64?) {
        self.offset = offset
        self.resetAt = resetAt
    }

    public init(_ position: StoredPosition?) {
        self.init(offset: position?.offset, resetAt: position?.resetAt)
    }
}

/// Another task claimed a partition this one was writing: the batch must be dropped, not committed.
public struct SinkFenced: Error, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// What a claim found: the positions stored, and for partitions claimed before but never stored, the
/// dead-letter topic's ends when they were first claimed.
public struct ClaimedPositions: Sendable, Equatable {
    public var positions: [TopicPartition: StoredPosition]
    public var unstoredDeadLetterEnds: [TopicPartition: [Int64]]

    public init(
        positions: [TopicPartition: StoredPosition] = [:], unstoredDeadLetterEnds: [TopicPartition: [Int64]] = [:]
    ) {
        self.positions = positions
        self.unstoredDeadLetterEnds = unstoredDeadLetterEnds
    }
}

/// Where a partition continues from, as a sink stores it with its data.
public struct StoredPosition: Sendable, Equatable {
    /// The next offset to deliver.
    public var offset: Int64
    /// The group's reset marker this position follows (when `sluice groups reset-offsets` last set
    /// the group's offset on the partition, epoch milliseconds; nil if never).
    public var resetAt: Int64?
    /// The end offset of each partition of the sink's dead-letter topic once the batch's dead letters
    /// were stored there: dead letters after these come from attempts that were not committed.
    public var deadLetterEnds: [Int64]
    /// The id of the topic's incarnation the offset belongs to (`Broker.topicID`): a topic deleted and
    /// made again, or another data directory's topic of the same name, has another. Nil when unknown.
    public var topicID: String?

    public init(offset: Int64, resetAt: Int64?, deadLetterEnds: [Int64], topicID: String? = nil) {
        self.offset = offset
        self.resetAt = resetAt
        self.deadLetterEnds = deadLetterEnds
        self.topicID = topicID
    }
}

/// A sink that can tell which records it holds durably, for the conformance suite
/// (`sluice connectors test`): the `id` member of the value of every record it holds (the suite's
/// records are JSON objects with a unique `id`).
public protocol InspectableSink: Sink {
    /// The ids of the records held durably; nil when the sink cannot tell (its destination does not
    /// keep them).
    func heldRecordIDs() throws -> Set<Int64>?
}
