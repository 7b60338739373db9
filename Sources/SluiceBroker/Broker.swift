import Logging
import SluiceCore
import SluiceLog

/// The embedded broker: topics of partition logs in one data directory, committed offsets, and consumer
/// groups, in the way Kafka organizes them.
///
/// One process opens a data directory for writing at a time (a lock file holds its pid); any number
/// may open it read-only alongside. The broker is thread-safe. Every call that touches the disk
/// blocks, so callers run it on their own threads, never on Swift's cooperative pool.
///
/// Layout: `DATA/.lock`, `DATA/__topics.json` (partition counts and setting overrides), and a folder
/// `DATA/TOPIC-PARTITION/` per partition, the internal `__consumer_offsets-0` among them.
public final class Broker: @unchecked Sendable {
    struct TopicState {
        /// What `__topics.json` says of the topic.
        var entry: TopicMetadata.Entry
        var logs: [PartitionLog?]

        init(entry: TopicMetadata.Entry) {
            self.entry = entry
            logs = Array(repeating: nil, count: Int(entry.config.partitions))
        }

        var config: TopicConfig {
            get { entry.config }
            set { entry.config = newValue }
        }

        /// A change under way (see `TopicMetadata`); `ready` otherwise.
        var phase: TopicMetadata.Phase {
            get { entry.phase }
            set { entry.phase = newValue }
        }
    }

    public let dataDirectory: String
    public let isReadOnly: Bool
    public let logger: Logger
    /// Moves on every append, so that waiting consumers wake up.
    public let appended = ChangeSignal()
    /// Moves on every offset commit, so that whoever waits for a group to catch up wakes up.
    public var committed: ChangeSignal { offsetStore.committed }
    /// The data directory's lock while the broker is open for writing; `close()` lets it go.
    let directoryLock: Locked<DirectoryLock?>
    let topics: Locked<[String: TopicState]>
    let offsetStore: OffsetStore
    let checkpointStore: CompactedStore
    let coordinator: GroupCoordinator
    /// Groups of Kafka clients the daemon's Kafka listener coordinates, as `publishExternalGroup` says.
    let externalGroups = Locked<[String: MembersFile]>([:])

    public static let offsetsTopic = "__consumer_offsets"
    /// Where sources keep their positions, as Kafka Connect keeps source offsets.
    public static let checkpointsTopic = "__source_checkpoints"

    /// Opens (and, for writing, creates) the data directory. For writing it takes the directory's lock,
    /// or throws `directoryInUse` naming the process that holds it.
    public init(dataDirectory: String, readOnly: Bool = false, logger: Logger = Logger(label: "sluice.broker")) throws {
        self.dataDirectory = dataDirectory
        isReadOnly = readOnly
        self.logger = logger
        guard !dataDirectory.isEmpty else { throw BrokerError(.invalidConfig, "the data directory cannot be empty") }
        if FileSystem.exists(dataDirectory) && !FileSystem.isDirectory(dataDirectory) {
            throw BrokerError(.storage, "data directory \(dataDirectory) is a file, not a folder")
        }
        if readOnly {
            guard FileSystem.isDirectory(dataDirectory) else {
                throw BrokerError(.storage, "data directory \(dataDirectory) does not exist")
            }
            directoryLock = Locked(nil)
        } else {
            do {
                try FileSystem.createDirectory(dataDirectory)
                directoryLock = Locked(try DirectoryLock(directory: dataDirectory))
            } catch let error as CoreError {
                throw BrokerError(error.errno == 11 ? .directoryInUse : .storage, error.message)
            }
        }
        var metadata = try TopicMetadata.load(dataDirectory)
        if !readOnly {
            try metadata.checkFolders(dataDirectory)
            try Self.removeLeftovers(dataDirectory)
            var changed = false
            for topic in Self.internalTopics where metadata.topics[topic] == nil {
                metadata.topics[topic] = TopicMetadata.Entry(config: try Self.internalTopicConfig(), phase: .creating)
                changed = true
            }
            if changed || metadata.assignedIDs { try metadata.save(dataDirectory) }
        }
        var states = metadata.topics.mapValues { TopicState(entry: $0) }
        var stores: [String: CompactedStore] = [:]
        for topic in Self.internalTopics {
            let tp = TopicPartition(topic, 0)
            let directory = dataDirectory + "/" + tp.description
            var log: PartitionLog?
            if !readOnly || FileSystem.isDirectory(directory) {
                log = try Self.openLog(
                    directory: directory,
                    tp: tp,
                    config: metadata.topics[topic]?.config.logConfig ?? LogConfig(),
                    readOnly: readOnly,
                    create: metadata.topics[topic]?.phase == .creating,
                    logger: logger
                )
            }
            if !readOnly, let log, let ends = metadata.topics[topic]?.ends, let closedEnd = ends.first,
                log.endOffset < closedEnd
            {
                throw Self.shrunk(log, closedEnd: closedEnd, dataDirectory)
            }
            states[topic]?.logs[0] = log
            stores[topic] = try CompactedStore(log: log, logger: logger)
        }
        // Internal topics created just now are complete once their logs are open.
        var createdInternal = false
        for topic in Self.internalTopics where states[topic]?.phase == .creating && !readOnly {
            states[topic]?.phase = .ready
            createdInternal = true
        }
        topics = Locked(states)
        offsetStore = try OffsetStore(store: try stores[Self.offsetsTopic] ?? CompactedStore(log: nil, logger: logger))
        checkpointStore = try stores[Self.checkpointsTopic] ?? CompactedStore(log: nil, logger: logger)
        coordinator = GroupCoordinator(store: offsetStore, dataDirectory: dataDirectory, logger: logger)
        if createdInternal { try topics.withLock { try saveMetadata($0) } }
        if !readOnly { try finishInterruptedChanges() }
    }

    /// The broker's own compacted topics: committed offsets and source checkpoints.
    public static let internalTopics = [offsetsTopic, checkpointsTopic]

    static func internalTopicConfig() throws -> TopicConfig {
        var config = TopicConfig(partitions: 1)
        try config.set("segment_bytes", .number(String(8 << 20)))
        try config.set("retention_ms", .number("-1"))
        return config
    }

    /// Opens a partition's log; `create` makes a missing one (a topic or partition being created),
    /// otherwise a missing folder or segment is an error.
    static func openLog(
        directory: String, tp: TopicPartition, config: LogConfig, readOnly: Bool, create: Bool, logger: Logger
    ) throws -> PartitionLog {
        do {
            return try PartitionLog.open(
                directory: directory, name: tp.description, config: config, readOnly: readOnly, create: create,
                logger: logger)
        } catch let error as LogError where error.code == .missing {
            throw TopicMetadata.missingPartition(tp, error.message)
        } catch let error as LogError {
            throw BrokerError(.storage, "cannot open partition \(tp)", cause: error)
        } catch let error as CoreError {
            throw BrokerError(.storage, "cannot open partition \(tp)", cause: error)
        }
    }

    /// Flushes and closes every open log, then releases the data directory so that another broker may
    /// open it. The broker is unusable afterwards.
    public func close() throws {
        coordinator.shutdown()
        let logs = topics.withLock { topics in topics.values.flatMap { $0.logs.compactMap { $0 } } }
        for log in logs { try log.close() }
        if !isReadOnly {
            // The internal logs' ends, now that everything is on disk: a later open that finds less lost
            // records (a log never shrinks).
            try topics.withLock { topics in
                for name in Self.internalTopics {
                    guard let log = topics[name]?.logs.first ?? nil else { continue }
                    topics[name]?.entry.ends = [log.endOffset]
                }
                try saveMetadata(topics)
            }
        }
        directoryLock.withLock { $0 = nil }
    }

    /// The error for an internal log that holds less than it held when the broker last closed cleanly.
    static func shrunk(_ log: PartitionLog, closedEnd: Int64, _ dataDirectory: String) -> BrokerError {
        BrokerError(
            .storage,
            "\(log.directory) ends at offset \(log.endOffset), but it ended at \(closedEnd) when Sluice last "
                + "closed it: records were lost (a file truncated, removed or replaced), and reading on would "
                + "forget \(log.name.hasPrefix(offsetsTopic) ? "committed offsets and deliver records again" : "source positions"). "
                + "Nothing was changed. Restore the folder from a backup; or, to go on with what is left, delete the "
                + "\"ends\" member of \(log.name.split(separator: "-").dropLast().joined(separator: "-")) and the "
                + "\"checksum\" line in \(dataDirectory)/\(TopicMetadata.fileName)")
    }

    // MARK: Metadata

    /// Writes the topic list atomically; callers hold the `topics` lock.
    func saveMetadata(_ state: [String: TopicState]) throws {
        var metadata = TopicMetadata()
        for (name, topic) in state { metadata.topics[name] = topic.entry }
        try metadata.save(dataDirectory)
    }

    /// Removes partition folders left behind by an interrupted topic deletion.
    private static func removeLeftovers(_ directory: String) throws {
        for name in try FileSystem.contentsOfDirectory(directory) where name.hasSuffix(".deleted") {
            try FileSystem.removeTree(directory + "/" + name)
        }
    }

    /// The folder of one partition.
    func partitionDirectory(_ tp: TopicPartition) -> String {
        dataDirectory + "/" + tp.topic + "-" + String(tp.partition)
    }

    // MARK: Logs

    /// The log of one partition, opened (and recovered) on first use.
    public func log(_ tp: TopicPartition) throws -> PartitionLog {
        try topics.withLock { state in
            guard let topic = state[tp.topic] else {
                throw BrokerError(.topicNotFound, "topic \"\(tp.topic)\" does not exist")
            }
            guard tp.partition >= 0 && tp.partition < topic.config.partitions else {
                throw BrokerError(
                    .invalidPartitions,
                    "topic \"\(tp.topic)\" has partitions 0 to \(topic.config.partitions - 1), not \(tp.partition)"
                )
            }
            if let log = topic.logs[Int(tp.partition)] { return log }
            let beingCreated = topic.phase == .creating && tp.partition >= topic.entry.creatingFrom
            if beingCreated && isReadOnly && !FileSystem.isDirectory(partitionDirectory(tp)) {
                throw BrokerError(
                    .storage,
                    "partition \(tp) is being created (a `sluice topics create` or `alter` was interrupted); the "
                        + "next command that writes to \(dataDirectory) (`sluice run`, `sluice topics …`) finishes it")
            }
            let log = try Self.openLog(
                directory: partitionDirectory(tp),
                tp: tp,
                config: topic.config.logConfig,
                readOnly: isReadOnly,
                create: beingCreated && !isReadOnly,
                logger: logger
            )
            state[tp.topic]?.logs[Int(tp.partition)] = log
            return log
        }
    }

    /// Appends one built batch to a partition and wakes waiting consumers. `verifiedCRC` skips checking
    /// the CRC of a batch a builder in this process has just computed.
    @discardableResult
    public func append(
        _ batch: inout [UInt8],
        to tp: TopicPartition,
        now: Int64 = Time.nowMillis(),
        verifiedCRC: Bool = false
    ) throws -> PartitionLog.AppendResult {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        let result = try log(tp).append(&batch, now: now, verifiedCRC: verifiedCRC)
        appended.notify()
        return result
    }

    /// The records of a partition from `offset`, about `maxBytes` of batches; a batch that fails its
    /// checks is reported with the partition it is in.
    public func readRecords(_ tp: TopicPartition, from offset: Int64, maxBytes: Int) throws -> RecordBlock {
        let bytes = try read(tp, from: offset, maxBytes: maxBytes)
        do {
            return try RecordBatchDecoder.decode(bytes, from: offset)
        } catch let error as LogError {
            throw LogError(
                error.code,
                "partition \(tp): \(error.message); its segment files are in \(dataDirectory)/\(tp). Nothing was "
                    + "changed. Restore the folder from a backup, or move the group past the damaged batch with "
                    + "`sluice groups reset-offsets --group GROUP --topic \(tp.topic):\(tp.partition) --to-offset N "
                    + "--execute` (its records are then lost)")
        }
    }

    /// Whole batches of a partition from `offset`, as `PartitionLog.read` returns them. A read-only
    /// broker first looks for what the writing process appended since.
    public func read(_ tp: TopicPartition, from offset: Int64, maxBytes: Int) throws -> [UInt8] {
        let log = try log(tp)
        do {
            if isReadOnly && offset >= log.endOffset { try log.refresh() }
            return try log.read(from: offset, maxBytes: maxBytes)
        } catch let error as LogError where error.code == .offsetOutOfRange {
            throw BrokerError(.offsetOutOfRange, error.message)
        }
    }

    /// The first stored offset and the next offset of a partition.
    public func offsets(_ tp: TopicPartition) throws -> (start: Int64, end: Int64) {
        let log = try log(tp)
        if isReadOnly { try log.refresh() }
        return (log.startOffset, log.endOffset)
    }

    /// Makes every append to `tp` durable, whatever its topic's flush policy.
    public func flush(_ tp: TopicPartition) throws {
        try log(tp).flush()
    }
}
