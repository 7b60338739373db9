import SluiceCore
import SluiceLog

extension Broker {
    /// One partition as `topics describe` shows it.
    public struct PartitionDescription: Sendable {
        public var partition: Int32
        public var startOffset: Int64
        public var endOffset: Int64
        public var segments: [PartitionLog.SegmentInfo]
        public var sizeInBytes: Int64 { segments.reduce(0) { $0 + $1.sizeInBytes } }
    }

    /// The names of all topics, internal ones included, in order.
    public func topicNames(includeInternal: Bool = true) -> [String] {
        topics.withLock { topics in
            topics.filter { $0.value.phase != .deleting && (includeInternal || !TopicName.isInternal($0.key)) }
                .keys.sorted()
        }
    }

    /// The config of `topic`, or nil when it does not exist (or is being deleted).
    public func topicConfig(_ topic: String) -> TopicConfig? {
        topics.withLock { topics in topics[topic].flatMap { $0.phase == .deleting ? nil : $0.config } }
    }

    /// The id of the current incarnation of `topic` (a topic deleted and created again gets a new one),
    /// or nil when it does not exist.
    public func topicID(_ topic: String) -> String? {
        topics.withLock { topics in topics[topic].flatMap { $0.phase == .deleting ? nil : $0.entry.id } }
    }

    /// The partition count of `topic`.
    public func partitionCount(_ topic: String) throws -> Int32 {
        guard let config = topicConfig(topic) else {
            throw BrokerError(.topicNotFound, "topic \"\(topic)\" does not exist")
        }
        return config.partitions
    }

    /// Creates a topic, or throws `topicExists`.
    public func createTopic(_ name: String, config: TopicConfig) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        if let problem = TopicName.problem(name) { throw BrokerError(.invalidTopic, problem) }
        guard !TopicName.isInternal(name) else {
            throw BrokerError(.invalidTopic, "topic names starting with \"__\" are reserved for the broker")
        }
        guard config.partitions >= 1 && config.partitions <= TopicConfig.maxPartitions else {
            throw BrokerError(
                .invalidPartitions,
                "a topic needs 1 to \(TopicConfig.maxPartitions) partitions, not \(config.partitions)")
        }
        try topics.withLock { state in
            guard state[name] == nil else {
                throw BrokerError(
                    .topicExists,
                    state[name]?.phase == .deleting
                        ? "topic \"\(name)\" is being deleted" : "topic \"\(name)\" already exists")
            }
            for partition in 0..<config.partitions {
                // Opening the broker refused folders the list does not describe; one that appeared since
                // is not ours to reuse or remove.
                let directory = partitionDirectory(TopicPartition(name, partition))
                if FileSystem.exists(directory) {
                    throw BrokerError(
                        .storage, "cannot create topic \"\(name)\": \(directory) already exists; move it away first")
                }
            }
            state[name] = TopicState(entry: TopicMetadata.Entry(config: config, phase: .creating, creatingFrom: 0))
            try saveMetadata(state)
        }
        try finishCreating(name)
        logger.info("created topic", metadata: ["topic": "\(name)", "partitions": "\(config.partitions)"])
    }

    /// Creates the missing partitions of a topic being created (or given more partitions), then marks it
    /// ready. Also what opening the broker does for a creation a crash interrupted.
    func finishCreating(_ name: String) throws {
        guard let count = topicConfig(name)?.partitions else { return }
        for partition in 0..<count { _ = try log(TopicPartition(name, partition)) }
        for partition in 0..<count { try FileSystem.syncDirectory(partitionDirectory(TopicPartition(name, partition))) }
        try FileSystem.syncDirectory(dataDirectory)
        try topics.withLock { state in
            guard state[name]?.phase == .creating else { return }
            state[name]?.phase = .ready
            try saveMetadata(state)
        }
    }

    /// Finishes what a crash interrupted: topics being created get their missing partitions, topics
    /// being deleted are deleted. Called when the broker opens for writing.
    func finishInterruptedChanges() throws {
        let pending = topics.withLock { state in state.filter { $0.value.phase != .ready }.mapValues(\.phase) }
        for (name, phase) in pending.sorted(by: { $0.key < $1.key }) {
            logger.warning(
                "finishing a topic change that was interrupted",
                metadata: ["topic": "\(name)", "change": "\(phase == .creating ? "create" : "delete")"])
            if phase == .creating {
                try finishCreating(name)
            } else {
                try finishDeleting(name)
            }
        }
    }

    /// Creates `name` with `config` when it does not exist yet; returns whether it did.
    @discardableResult
    public func ensureTopic(_ name: String, config: TopicConfig = TopicConfig()) throws -> Bool {
        guard topicConfig(name) == nil else { return false }
        do {
            try createTopic(name, config: config)
            return true
        } catch let error as BrokerError where error.code == .topicExists {
            return false
        }
    }

    /// Raises the partition count of a topic; lowering it is refused, as Kafka refuses it. Raising the
    /// count of a topic written by key (`isWrittenByKey`) is refused too unless `allowKeyRemap`: keys
    /// then move to other partitions, and a key's newer records can be delivered before its older ones.
    public func setPartitionCount(_ name: String, to count: Int32, allowKeyRemap: Bool = false) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        if let current = topicConfig(name)?.partitions, count > current, !allowKeyRemap, !TopicName.isInternal(name),
            try isWrittenByKey(name)
        {
            throw BrokerError(
                .invalidPartitions,
                "topic \"\(name)\" is written by key; raising its partitions from \(current) to \(count) sends "
                    + "each key's new records to another partition than its older ones, so a sink can apply a "
                    + "key's newer records before its older ones (an upsert can end with an older value). Nothing "
                    + "was changed. To raise it anyway, pass --allow-key-remap to `sluice topics alter` (or set "
                    + "\"allow_key_remap\": true on the topic in the config); to keep each key's order, create "
                    + "a new topic with more partitions and move to it")
        }
        try topics.withLock { state in
            guard let topic = state[name] else { throw BrokerError(.topicNotFound, "topic \"\(name)\" does not exist") }
            guard !TopicName.isInternal(name) else {
                throw BrokerError(.invalidTopic, "the internal topic \"\(name)\" cannot be changed")
            }
            guard count >= topic.config.partitions else {
                throw BrokerError(
                    .invalidPartitions,
                    "topic \"\(name)\" has \(topic.config.partitions) partitions; the count can be raised, never lowered"
                )
            }
            guard count <= TopicConfig.maxPartitions else {
                throw BrokerError(
                    .invalidPartitions, "a topic can have at most \(TopicConfig.maxPartitions) partitions")
            }
            guard count > topic.config.partitions else { return }
            for partition in topic.config.partitions..<count {
                let directory = partitionDirectory(TopicPartition(name, partition))
                if FileSystem.exists(directory) {
                    throw BrokerError(
                        .storage, "cannot add partition \(partition) to \"\(name)\": \(directory) already exists")
                }
            }
            state[name]?.config.partitions = count
            state[name]?.logs.append(contentsOf: Array(repeating: nil, count: Int(count - topic.config.partitions)))
            state[name]?.phase = .creating
            state[name]?.entry.creatingFrom = topic.config.partitions
            try saveMetadata(state)
        }
        try finishCreating(name)
        coordinator.topicsChanged(partitionCounts: [name: count])
    }

    /// Whether records of `topic` are placed by key: its source declared key columns, or the last batch
    /// of one of its partitions holds a record with a key.
    public func isWrittenByKey(_ name: String) throws -> Bool {
        guard let config = topicConfig(name) else { return false }
        if let schema = config.schema, case .array(let key)? = schema["key"], !key.isEmpty { return true }
        for partition in 0..<config.partitions {
            let tp = TopicPartition(name, partition)
            let (start, end) = try offsets(tp)
            guard end > start else { continue }
            let block = try readRecords(tp, from: end - 1, maxBytes: 1)
            if (0..<block.count).contains(where: { block.key($0) != nil }) { return true }
        }
        return false
    }

    /// Replaces the setting overrides of a topic (the partition count stays).
    public func setTopicConfig(_ name: String, _ config: TopicConfig) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        let logs = try topics.withLock { state -> [PartitionLog] in
            guard let topic = state[name] else { throw BrokerError(.topicNotFound, "topic \"\(name)\" does not exist") }
            var updated = config
            updated.partitions = topic.config.partitions
            updated.schema = topic.config.schema
            state[name]?.config = updated
            try saveMetadata(state)
            return topic.logs.compactMap { $0 }
        }
        let logConfig = config.logConfig
        for log in logs { log.update(config: logConfig) }
    }

    /// Stores what a source declared about a topic's values, for sinks to read later.
    public func setTopicSchema(_ name: String, _ schema: JSONValue?) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        try topics.withLock { state in
            guard state[name] != nil else { throw BrokerError(.topicNotFound, "topic \"\(name)\" does not exist") }
            guard state[name]?.config.schema != schema else { return }
            state[name]?.config.schema = schema
            try saveMetadata(state)
        }
    }

    /// Deletes a topic, its partitions' folders and the offsets committed on it.
    ///
    /// Crash-safe: the topic is first marked `deleting` in the topic list, then its offsets and folders
    /// are removed, then it leaves the list; opening the broker after a crash in between finishes the
    /// deletion. A half-deleted topic is never used again.
    public func deleteTopic(_ name: String) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        guard !TopicName.isInternal(name) else {
            throw BrokerError(.invalidTopic, "the internal topic \"\(name)\" cannot be deleted")
        }
        try topics.withLock { state in
            guard state[name] != nil, state[name]?.phase != .deleting else {
                throw BrokerError(.topicNotFound, "topic \"\(name)\" does not exist")
            }
            state[name]?.phase = .deleting
            try saveMetadata(state)
        }
        try finishDeleting(name)
        logger.info("deleted topic", metadata: ["topic": "\(name)"])
    }

    /// Removes the offsets and folders of a topic marked `deleting`, then the topic from the list.
    func finishDeleting(_ name: String) throws {
        let (logs, partitions) = topics.withLock { state -> ([PartitionLog], Int32) in
            guard let topic = state[name] else { return ([], 0) }
            return (topic.logs.compactMap { $0 }, topic.config.partitions)
        }
        for log in logs { try? log.close() }
        try offsetStore.deleteOffsets(topic: name)
        for partition in 0..<partitions {
            let directory = partitionDirectory(TopicPartition(name, partition))
            guard FileSystem.exists(directory) else { continue }
            // Topic names are ASCII; cut long ones short so that the new name fits in 255 bytes.
            let trash = dataDirectory + "/" + String(name.prefix(200)) + "-\(partition).deleted"
            if FileSystem.exists(trash) { try FileSystem.removeTree(trash) }
            try FileSystem.rename(directory, to: trash)
            try FileSystem.removeTree(trash)
        }
        try topics.withLock { state in
            state[name] = nil
            try saveMetadata(state)
        }
    }

    /// Each partition's offsets and segments.
    public func describeTopic(_ name: String) throws -> [PartitionDescription] {
        let count = try partitionCount(name)
        return try (0..<count).map { partition in
            let tp = TopicPartition(name, partition)
            let log = try log(tp)
            if isReadOnly { try log.refresh() }
            return PartitionDescription(
                partition: partition,
                startOffset: log.startOffset,
                endOffset: log.endOffset,
                segments: log.segmentInfos
            )
        }
    }
}
