import CRdKafka
import Logging
import SluiceBroker
import SluiceCore

/// The pipeline's broker on a Kafka cluster, through librdkafka: sources write with one idempotent
/// producer (acks=all), sinks read in Kafka consumer groups and commit after their durable write,
/// topics are created with the config's partition counts, and a source's checkpoints are records of a
/// compacted topic, `_sluice_checkpoints`, keyed by the source's name.
///
/// A source's position is tied to what the cluster acknowledged as on the embedded broker: a checkpoint
/// holds each partition's end after the batch it follows was acknowledged, and on start the records
/// stored after those ends (a batch acknowledged, the checkpoint not yet) are read back, and their
/// headers (file and line) tell the source what to skip.
public final class KafkaCluster: PipelineBroker, @unchecked Sendable {
    public static let checkpointsTopic = "_sluice_checkpoints"

    public let settings: KafkaClusterSettings
    public let appended = ChangeSignal()
    public let committed = ChangeSignal()
    let logger: Logger
    private let callbacks: HandleCallbacks
    private let producerHandle: KafkaHandle
    private struct State {
        var topics: [String: Int32] = [:]
        var topicsRead: UInt64 = 0
        var schemas: [String: JSONValue] = [:]
        /// Partition ends this process saw: from its sends' acknowledgements, and from queries. A
        /// source's topic is written by that source alone, so after its sends they are the ends.
        var knownEnds: [TopicPartition: Int64] = [:]
    }
    private let state = Locked(State())
    /// How long a record may wait for the cluster's acknowledgement before its send fails (Kafka's
    /// `delivery.timeout.ms`; `message.timeout.ms` in `properties` changes it): a run whose cluster is
    /// gone ends with an error then, and its next run goes on from what was acknowledged.
    static let deliveryTimeoutMillis = 120_000

    /// How long the topic list read from the cluster is used before it is read again.
    private static let metadataMillis: UInt64 = 1000

    /// Connects to the cluster and reads its topics; an unreachable cluster or settings it refuses fail
    /// here, within `requestTimeoutMillis`, with what librdkafka reported.
    public init(_ settings: KafkaClusterSettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let callbacks = HandleCallbacks(logger: logger)
        self.callbacks = callbacks
        producerHandle = try KafkaHandle(
            .producer, settings,
            defaults: [("linger.ms", "5"), ("message.timeout.ms", String(Self.deliveryTimeoutMillis))],
            extra: [("enable.idempotence", "true"), ("acks", "all")],
            opaque: callbacks
        ) { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReport)
            rd_kafka_conf_set_error_cb(conf, errorCallback)
            rd_kafka_conf_set_log_cb(conf, logCallback)
        }
        do {
            _ = try topics(fresh: true)
        } catch {
            throw BrokerError(
                .unavailable,
                "broker.bootstrap_servers: cannot reach the Kafka cluster at \(settings.bootstrapServers) within "
                    + "\(settings.requestTimeoutMillis) ms: \(error.message)\(lastError)")
        }
    }

    /// librdkafka's last reported error, as a sentence's end ("" when none).
    var lastError: String {
        callbacks.lastError.withLock { $0 }.map { " (librdkafka: \($0))" } ?? ""
    }

    func producer() throws -> KafkaHandle { producerHandle }

    /// Whether librdkafka reported every broker down, and nothing answered since (shared by the handles).
    var unreachable: Locked<Bool> { callbacks.unreachable }

    /// How long a request may wait: `request_timeout_ms`, but a second while librdkafka reports every
    /// broker down (a Ctrl-C then ends the run at once instead of waiting out each report's queries).
    var requestTimeoutMillis: Int32 {
        callbacks.unreachable.withLock { $0 } ? min(settings.requestTimeoutMillis, 1000) : settings.requestTimeoutMillis
    }

    /// While every broker is reported down, asks for the metadata within `requestTimeoutMillis` (a
    /// second) before a request that would wait its whole timeout, and fails at once when nobody answers.
    /// (librdkafka's watermark query can also outlive a timeout shorter than its socket timeout.)
    private func probeWhileUnreachable() throws(BrokerError) {
        guard callbacks.unreachable.withLock({ $0 }) else { return }
        _ = try producerHandle.topics(timeoutMillis: requestTimeoutMillis)
        answered()
    }

    /// The cluster answered: requests get their whole timeout again.
    func answered() {
        callbacks.unreachable.withLock { $0 = false }
    }

    public func close() throws {
        rd_kafka_flush(producerHandle.raw, settings.requestTimeoutMillis)
    }

    // MARK: Topics

    private func topics(fresh: Bool = false) throws(BrokerError) -> [String: Int32] {
        let now = Time.monotonicNanos()
        if !fresh,
            let cached = state.withLock({ state -> [String: Int32]? in
                now - state.topicsRead < Self.metadataMillis * 1_000_000 ? state.topics : nil
            })
        {
            return cached
        }
        let topics: [String: Int32]
        do {
            topics = try producerHandle.topics(timeoutMillis: requestTimeoutMillis)
        } catch {
            // While every broker is down, the last list read stands (a topic's partitions do not change
            // while nobody can reach the cluster to change them).
            guard callbacks.unreachable.withLock({ $0 }),
                let cached = state.withLock({ $0.topicsRead > 0 ? $0.topics : nil })
            else { throw error }
            return cached
        }
        answered()
        state.withLock {
            $0.topics = topics
            $0.topicsRead = now
        }
        return topics
    }

    public func topicConfig(_ topic: String) -> TopicConfig? {
        guard let partitions = (try? topics())?[topic] else { return nil }
        var config = TopicConfig(partitions: partitions)
        config.schema = state.withLock { $0.schemas[topic] }
        return config
    }

    public func topicID(_ topic: String) -> String? { nil }

    /// The cluster's topics, in order; those starting with "_" (the cluster's and Sluice's own) only
    /// with `includeInternal`.
    public func topicNames(includeInternal: Bool) throws -> [String] {
        try topics(fresh: true).keys.filter { includeInternal || !$0.hasPrefix("_") }.sorted()
    }

    public func partitionCount(_ topic: String) throws -> Int32 {
        guard let count = try topics()[topic] ?? topics(fresh: true)[topic] else {
            throw BrokerError(.topicNotFound, "topic \"\(topic)\" does not exist on the Kafka cluster")
        }
        return count
    }

    public func offsets(_ tp: TopicPartition) throws -> (start: Int64, end: Int64) {
        try probeWhileUnreachable()
        return try producerHandle.watermarks(tp, timeoutMillis: settings.requestTimeoutMillis)
    }

    /// The ends the source's own sends were acknowledged up to, asking the cluster only for partitions
    /// it has not written since it read back what was stored (one round trip per partition and batch
    /// fewer, and no wait on a cluster that went away after acknowledging).
    public func sourceEnds(_ topic: String) throws -> [Int64] {
        try (0..<partitionCount(topic)).map { partition in
            let tp = TopicPartition(topic, partition)
            if let known = state.withLock({ $0.knownEnds[tp] }) { return known }
            let end = try offsets(tp).end
            learned(tp, end: end)
            return end
        }
    }

    /// Records that `tp` holds records up to `end` (exclusive).
    func learned(_ tp: TopicPartition, end: Int64) {
        state.withLock { $0.knownEnds[tp] = max($0.knownEnds[tp] ?? end, end) }
    }

    /// Records are acknowledged by every in-sync replica (acks=all) before a send returns.
    public func flush(_ tp: TopicPartition) throws {}

    public func createTopic(_ name: String, config: TopicConfig) throws {
        try createTopic(name, partitions: config.partitions, configs: config.kafkaConfigs, existingIsFine: false)
    }

    /// Creates a topic; one that exists already is an error unless `existingIsFine` (another Sluice
    /// process may create a config's topics at the same moment).
    private func createTopic(
        _ name: String, partitions: Int32, configs: [(name: String, value: String)], existingIsFine: Bool = true
    ) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard let topic = rd_kafka_NewTopic_new(name, partitions, settings.replicationFactor, &error, error.count)
        else {
            throw BrokerError(.invalidConfig, "topic \"\(name)\": \(KafkaHandle.text(error))")
        }
        defer { rd_kafka_NewTopic_destroy(topic) }
        for config in configs {
            guard rd_kafka_NewTopic_set_config(topic, config.name, config.value) == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw BrokerError(.invalidConfig, "topic \"\(name)\": librdkafka refused config \(config.name)")
            }
        }
        var newTopics: [OpaquePointer?] = [topic]
        try adminCall("create topic \"\(name)\"") { queue, options in
            rd_kafka_CreateTopics(producerHandle.raw, &newTopics, 1, options, queue)
        } result: { event in
            var count = 0
            guard let result = rd_kafka_event_CreateTopics_result(event),
                let results = rd_kafka_CreateTopics_result_topics(result, &count)
            else { return }
            for index in 0..<count {
                let code = rd_kafka_topic_result_error(results[index])
                if code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && !existingIsFine {
                    throw BrokerError(.topicExists, "topic \"\(name)\" exists already on the Kafka cluster")
                }
                guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
                    continue
                }
                let message = rd_kafka_topic_result_error_string(results[index]).map { String(cString: $0) } ?? ""
                throw BrokerError(
                    .invalidConfig,
                    "the Kafka cluster refused to create topic \"\(name)\" with \(partitions) partitions"
                        + configs.map { ", \($0.name)=\($0.value)" }.joined() + ": "
                        + "\(message.isEmpty ? String(cString: rd_kafka_err2str(code)) : message)")
            }
        }
        logger.info(
            "created a topic on the Kafka cluster",
            metadata: [
                "topic": "\(name)", "partitions": "\(partitions)",
                "replication_factor": "\(settings.replicationFactor)",
                "configs": "\(configs.map { "\($0.name)=\($0.value)" }.joined(separator: ","))",
            ])
        _ = try topics(fresh: true)
    }

    /// Runs one admin request and hands its result event to `result`.
    private func adminCall(
        _ what: String, request: (OpaquePointer, OpaquePointer) -> Void, result: (OpaquePointer) throws -> Void
    ) throws {
        try probeWhileUnreachable()
        guard let queue = rd_kafka_queue_new(producerHandle.raw) else {
            throw BrokerError(.unavailable, "\(what): librdkafka cannot make a queue")
        }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(producerHandle.raw, RD_KAFKA_ADMIN_OP_ANY) else {
            throw BrokerError(.unavailable, "\(what): librdkafka cannot make admin options")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        var error = [CChar](repeating: 0, count: 256)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, settings.requestTimeoutMillis, &error, error.count)
        request(queue, options)
        guard let event = rd_kafka_queue_poll(queue, settings.requestTimeoutMillis + 1000) else {
            throw BrokerError(.unavailable, "\(what): the Kafka cluster did not answer\(lastError)")
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let message = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            throw BrokerError(.unavailable, "\(what): \(message)\(lastError)")
        }
        try result(event)
    }

    @discardableResult
    public func ensureTopic(_ name: String, config: TopicConfig) throws -> Bool {
        guard topicConfig(name) == nil else { return false }
        try createTopic(name, partitions: config.partitions, configs: config.kafkaConfigs)
        return true
    }

    /// A Kafka topic's partitions are the cluster's: Sluice never changes them on its own.
    public func setPartitionCount(_ name: String, to count: Int32, allowKeyRemap: Bool) throws {
        let existing = try partitionCount(name)
        throw BrokerError(
            .invalidPartitions,
            "topic \"\(name)\" has \(existing) partitions on the Kafka cluster, fewer than the \(count) the config "
                + "declares; raise them on the cluster (kafka-topics --alter --topic \(name) --partitions \(count); "
                + "keys then move to other partitions) or declare \(existing)")
    }

    /// Topic settings on a Kafka cluster are the cluster's (kafka-configs); Sluice's own are not applied.
    public func setTopicConfig(_ name: String, _ config: TopicConfig) throws {
        logger.info("topic settings are not applied to a Kafka cluster's topics", metadata: ["topic": "\(name)"])
    }

    public func setTopicSchema(_ name: String, _ schema: JSONValue?) throws {
        state.withLock { $0.schemas[name] = schema }
    }

    /// Unknown on a cluster; assumed, so that a partition change is never taken lightly.
    public func isWrittenByKey(_ name: String) throws -> Bool { true }

    // MARK: Groups

    public func committedOffsets(_ group: String) -> [TopicPartition: Int64] {
        do { return try listCommitted(group) } catch {
            logger.debug("cannot read committed offsets", metadata: ["group": "\(group)", "error": "\(error)"]);
            return [:]
        }
    }

    /// The group's committed offsets (Kafka keeps no older ones).
    public func committedHighWater(_ group: String) -> [TopicPartition: Int64] { committedOffsets(group) }

    public func committedResets(_ group: String) -> [TopicPartition: Int64] { [:] }

    /// The consumer groups the cluster knows, in order.
    public func groupNames() throws -> [String] {
        var names: [String] = []
        try adminCall("list the consumer groups") { queue, options in
            rd_kafka_ListConsumerGroups(producerHandle.raw, options, queue)
        } result: { event in
            var count = 0
            guard let result = rd_kafka_event_ListConsumerGroups_result(event),
                let listings = rd_kafka_ListConsumerGroups_result_valid(result, &count)
            else { return }
            for index in 0..<count {
                if let id = rd_kafka_ConsumerGroupListing_group_id(listings[index]) {
                    names.append(String(cString: id))
                }
            }
        }
        return names.sorted()
    }

    public func offset(forTimestamp timestamp: Int64, in tp: TopicPartition) throws -> Int64 {
        let list = PartitionList([tp: timestamp])
        let code = rd_kafka_offsets_for_times(producerHandle.raw, list.raw, settings.requestTimeoutMillis)
        let (found, error) = PartitionList.read(list.raw)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaHandle.error(
                code != RD_KAFKA_RESP_ERR_NO_ERROR ? code : error, "cannot find offsets by time in \(tp)")
        }
        guard let offset = found[tp], offset >= 0 else { return try offsets(tp).end }
        return offset
    }

    /// Through AlterConsumerGroupOffsets, which the cluster refuses while the group has members.
    public func setCommittedOffsets(_ group: String, _ offsets: [TopicPartition: Int64]) throws {
        let list = PartitionList(offsets)
        guard let request = rd_kafka_AlterConsumerGroupOffsets_new(group, list.raw) else { return }
        defer { rd_kafka_AlterConsumerGroupOffsets_destroy(request) }
        var requests: [OpaquePointer?] = [request]
        try adminCall("reset the offsets of group \"\(group)\"") { queue, options in
            rd_kafka_AlterConsumerGroupOffsets(producerHandle.raw, &requests, 1, options, queue)
        } result: { event in
            var count = 0
            guard let result = rd_kafka_event_AlterConsumerGroupOffsets_result(event),
                let groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(result, &count), count > 0
            else { return }
            if let failure = Self.read(groups[0]).failure {
                throw BrokerError(
                    .notOwner,
                    "the Kafka cluster refused to reset the offsets of group \"\(group)\" (\(failure)); a group "
                        + "with running members cannot be reset: stop its consumers first")
            }
        }
        committed.notify()
    }

    /// The partitions of a group's admin result with their offsets, and its error or a partition's.
    private static func read(_ result: OpaquePointer?) -> (offsets: [TopicPartition: Int64], failure: String?) {
        if let error = rd_kafka_group_result_error(result) {
            return ([:], String(cString: rd_kafka_error_string(error)))
        }
        guard let partitions = rd_kafka_group_result_partitions(result) else { return ([:], nil) }
        let (offsets, code) = PartitionList.read(partitions)
        return (offsets, code == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2str(code)))
    }

    /// The group's committed offsets on the cluster.
    public func listCommitted(_ group: String) throws -> [TopicPartition: Int64] {
        // Every partition of the cluster's topics is named: librdkafka 2.0.2 asks for none when given none.
        var all: [TopicPartition: Int64] = [:]
        for (topic, count) in try topics() where !topic.hasPrefix("_") {
            for partition in 0..<count { all[TopicPartition(topic, partition)] = -1001 }
        }
        guard !all.isEmpty else { return [:] }
        let wanted = PartitionList(all)
        guard let request = rd_kafka_ListConsumerGroupOffsets_new(group, wanted.raw) else { return [:] }
        defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
        var requests: [OpaquePointer?] = [request]
        var offsets: [TopicPartition: Int64] = [:]
        try adminCall("read the offsets of group \"\(group)\"") { queue, options in
            rd_kafka_ListConsumerGroupOffsets(producerHandle.raw, &requests, 1, options, queue)
        } result: { event in
            var count = 0
            guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event),
                let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count), count > 0
            else { return }
            let (found, failure) = Self.read(groups[0])
            if let failure { throw BrokerError(.unavailable, "group \"\(group)\": \(failure)") }
            for (tp, offset) in found where offset >= 0 { offsets[tp] = offset }
        }
        return offsets
    }

    public func lag(group: String, topics: [String]) throws -> [Broker.GroupPartition] {
        let committed = try listCommitted(group)
        var result: [Broker.GroupPartition] = []
        for topic in topics {
            for partition in 0..<(try partitionCount(topic)) {
                let tp = TopicPartition(topic, partition)
                let (start, end) = try offsets(tp)
                result.append(
                    Broker.GroupPartition(
                        topicPartition: tp, committed: committed[tp], startOffset: start, endOffset: end, member: nil))
            }
        }
        return result
    }

    /// Backpressure by unconsumed bytes is the embedded broker's; a cluster's retention is its own.
    public func unconsumedBytes(topic: String, groups: [String]) throws -> Int64 { 0 }

    // MARK: Source checkpoints

    /// Read from the topic each time: another process may have run the source since.
    public func sourceCheckpoint(_ source: String) -> [UInt8]? {
        guard topicConfig(Self.checkpointsTopic) != nil else { return nil }
        var found: [UInt8]?
        do {
            try forEachBlock(TopicPartition(Self.checkpointsTopic, 0), from: 0) { block in
                for index in 0..<block.count {
                    guard let key = block.keyRange(index), block.bytes[key].elementsEqual(source.utf8) else { continue }
                    found = block.valueRange(index).map { Array(block.bytes[$0]) }
                }
                return true
            }
        } catch {
            logger.error("cannot read the sources' checkpoints", metadata: ["error": "\(error)"])
            return nil
        }
        return found
    }

    public func storeSourceCheckpoint(_ source: String, _ checkpoint: [UInt8]) throws {
        if topicConfig(Self.checkpointsTopic) == nil {
            try createTopic(Self.checkpointsTopic, partitions: 1, configs: [("cleanup.policy", "compact")])
        }
        var block = RecordBlock()
        block.beginRecord(timestamp: Time.nowMillis())
        block.setKey(block.appendBytes(Array(source.utf8)))
        block.setValue(block.appendBytes(checkpoint))
        try KafkaSender(cluster: self, topic: Self.checkpointsTopic).send(block)
    }

    /// Processes that run the same config share its sources through one consumer group per source.
    public func claim(source: String) throws -> (any SourceClaim)? {
        if topicConfig(Self.checkpointsTopic) == nil {
            try createTopic(Self.checkpointsTopic, partitions: 1, configs: [("cleanup.policy", "compact")])
        }
        return try KafkaSourceClaim(cluster: self, source: source, sessionTimeoutMillis: 10_000)
    }

    // MARK: Reading and writing

    public func makeProducer(topic: String, source: String?) throws -> any RecordSender {
        try KafkaSender(cluster: self, topic: topic)
    }

    public func makeConsumer(_ options: GroupConsumer.Options) throws -> any GroupReader {
        try KafkaGroupReader(cluster: self, options: options)
    }

    /// Reads `tp` from `offset` to its end as it is now, with a consumer of no group.
    public func forEachBlock(_ tp: TopicPartition, from offset: Int64, _ body: (RecordBlock) throws -> Bool) throws {
        let (start, end) = try offsets(tp)
        var next = max(offset, start)
        guard next < end else { return }
        let reader = try KafkaHandle(
            .consumer, settings, defaults: KafkaGroupReader.fetchDefaults,
            extra: [("enable.partition.eof", "false"), ("group.id", "sluice-reader"), ("enable.auto.commit", "false")])
        let assigned = PartitionList([tp: next])
        let code = rd_kafka_assign(reader.raw, assigned.raw)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaHandle.error(code, "cannot read \(tp)") }
        defer { rd_kafka_assign(reader.raw, nil) }
        let queue = rd_kafka_queue_get_consumer(reader.raw) ?? rd_kafka_queue_get_main(reader.raw)
        defer { rd_kafka_queue_destroy(queue) }
        var messages = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: 10_000)
        var idle = 0
        while next < end {
            let count = rd_kafka_consume_batch_queue(queue, 200, &messages, messages.count)
            guard count > 0 else {
                idle += 200
                if idle > Int(settings.requestTimeoutMillis) {
                    throw BrokerError(.unavailable, "reading \(tp) from offset \(next) timed out\(lastError)")
                }
                continue
            }
            idle = 0
            var block = RecordBlock()
            var failure: rd_kafka_resp_err_t?
            for message in messages[0..<count] {
                guard let message else { continue }
                if message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    failure = message.pointee.err
                } else if message.pointee.offset < end {
                    KafkaMessages.append(message, to: &block)
                    next = message.pointee.offset + 1
                }
                rd_kafka_message_destroy(message)
            }
            if let failure { throw KafkaHandle.error(failure, "cannot read \(tp)") }
            if !block.isEmpty, try !body(block) { return }
        }
    }

    /// The records after `ends`: without producer ids that last across restarts, every record stored there
    /// is taken as the source's own (a source's topic is written by that source).
    public func headers(storedBy source: String, after ends: [String: [Int64]], in topics: [String]) throws
        -> [[Header]]
    {
        var result: [[Header]] = []
        // A source starts over from what is stored: the ends it knew (another process may have written
        // its topics meanwhile) are asked again.
        state.withLock { state in state.knownEnds = state.knownEnds.filter { !topics.contains($0.key.topic) } }
        for topic in topics {
            for partition in 0..<(try partitionCount(topic)) {
                let from = ends[topic].flatMap { Int(partition) < $0.count ? $0[Int(partition)] : nil } ?? 0
                try forEachBlock(TopicPartition(topic, partition), from: from) { block in
                    for index in 0..<block.count { result.append(block.record(index).headers) }
                    return true
                }
            }
        }
        return result
    }
}
