import CRdKafka
import Logging
import SluiceBroker
import SluiceCore

#if canImport(Glibc)
    import Glibc
#endif

/// What librdkafka's callbacks reach through a handle's opaque: the last error it reported (for
/// messages), and the reader whose rebalances it serves.
final class HandleCallbacks: @unchecked Sendable {
    let lastError = Locked<String?>(nil)
    /// Set when librdkafka reports every broker connection down; cleared by the next answer.
    let unreachable: Locked<Bool>
    /// Where the loss of every broker connection is told (the producer's handle only: one line per
    /// outage, not one per handle).
    let logger: Logger?

    /// `unreachable` is shared by the handles of one cluster: any of them may be the one that learns it.
    init(logger: Logger? = nil, unreachable: Locked<Bool> = Locked(false)) {
        self.logger = logger
        self.unreachable = unreachable
    }
    /// Set once the reader exists; callbacks run on the reader's own thread, inside its polls.
    nonisolated(unsafe) weak var reader: KafkaGroupReader?
}

let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    _, code, reason, opaque in
    guard let opaque, let reason else { return }
    let callbacks = Unmanaged<HandleCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    let text = String(cString: reason)
    callbacks.lastError.withLock { $0 = text }
    if code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue {
        callbacks.unreachable.withLock { $0 = true }
        callbacks.logger?.warning(
            "the Kafka cluster cannot be reached; waiting for it to come back", metadata: ["reason": "\(text)"])
    }
}

/// librdkafka's own log lines: kept as the handle's last error when they are errors, else dropped (its
/// errors reach the user through the errors they cause).
let logCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    handle, level, _, line in
    guard level <= 3, let handle, let line, let opaque = rd_kafka_opaque(handle) else { return }
    let callbacks = Unmanaged<HandleCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    callbacks.lastError.withLock { $0 = String(cString: line) }
}

let rebalanceCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { _, code, partitions, opaque in
        guard let opaque, let partitions else { return }
        let callbacks = Unmanaged<HandleCallbacks>.fromOpaque(opaque).takeUnretainedValue()
        callbacks.reader?.rebalance(code, partitions)
    }

/// A member of a Kafka consumer group (classic protocol, eager range assignment), read by one thread:
/// offsets are committed by the runtime only (`enable.auto.commit=false`), after the durable write,
/// and each rebalance goes through `onPartitionsRevoked` and `onPartitionsAssigned`, where the sink
/// closes and opens its partitions and may `seek` where they start.
final class KafkaGroupReader: GroupReader {
    private let cluster: KafkaCluster
    private let handle: KafkaHandle
    private let callbacks: HandleCallbacks
    private let queue: OpaquePointer
    private let options: GroupConsumer.Options
    private(set) var membershipEpoch = 0
    var onPartitionsAssigned: (([TopicPartition: Int64]) throws -> Void)?
    var onPartitionsRevoked: ((Set<TopicPartition>) throws -> Void)?
    private var assignment: Set<TopicPartition> = []
    private var positions: [TopicPartition: Int64] = [:]
    /// During an assignment: where the sink asked its partitions to start.
    private var seeks: [TopicPartition: Int64]?
    /// What a callback threw, for `poll` to throw.
    private var callbackError: (any Error)?
    private var closed = false

    init(cluster: KafkaCluster, options: GroupConsumer.Options) throws {
        guard !options.group.isEmpty else { throw BrokerError(.invalidConfig, "a consumer group name cannot be empty") }
        self.cluster = cluster
        self.options = options
        let callbacks = HandleCallbacks(unreachable: cluster.unreachable)
        self.callbacks = callbacks
        handle = try KafkaHandle(
            .consumer, cluster.settings, defaults: Self.fetchDefaults,
            extra: [
                ("group.id", options.group), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", "false"), ("partition.assignment.strategy", "range"),
                ("auto.offset.reset", options.autoOffsetReset == .latest ? "latest" : "earliest"),
                ("session.timeout.ms", String(options.sessionTimeoutMs)),
                ("max.poll.interval.ms", String(max(options.maxPollIntervalMs, options.sessionTimeoutMs))),
            ],
            opaque: callbacks
        ) { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
            rd_kafka_conf_set_error_cb(conf, errorCallback)
            rd_kafka_conf_set_log_cb(conf, logCallback)
        }
        rd_kafka_poll_set_consumer(handle.raw)
        queue = rd_kafka_queue_get_consumer(handle.raw)
        callbacks.reader = self
        let topics = PartitionList([:])
        for topic in options.topics {
            rd_kafka_topic_partition_list_add(topics.raw, topic, RD_KAFKA_PARTITION_UA)
        }
        let code = rd_kafka_subscribe(handle.raw, topics.raw)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_queue_destroy(queue)
            throw KafkaHandle.error(code, "group \"\(options.group)\" cannot subscribe to \(options.topics)")
        }
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
    }

    /// librdkafka 2.0 backs a partition's fetches off for `fetch.error.backoff.ms` (500 ms) whenever its
    /// prefetched queue holds `queued.min.messages` (100,000): a sink that writes fast emptied the queue
    /// long before the next fetch, and stalled (six half-second stalls in a 1,000,000-record run). The
    /// queue's size stays bounded by `queued.max.messages.kbytes`.
    static let fetchDefaults = [("queued.min.messages", "1000000"), ("fetch.error.backoff.ms", "50")]

    /// Serves a rebalance on the reader's thread (inside a poll).
    func rebalance(_ code: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let partitions = Set(PartitionList.read(list).offsets.keys)
        if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            membershipEpoch += 1
            var starts: [TopicPartition: Int64] = [:]
            do {
                starts = try startOffsets(partitions)
                seeks = [:]
                try onPartitionsAssigned?(starts)
            } catch {
                if callbackError == nil { callbackError = error }
            }
            for (tp, offset) in seeks ?? [:] { starts[tp] = offset }
            seeks = nil
            let assigned = PartitionList(starts)
            rd_kafka_assign(handle.raw, assigned.raw)
            assignment = partitions
            positions = starts
        } else {
            do {
                if !assignment.isEmpty { try onPartitionsRevoked?(assignment) }
            } catch {
                if callbackError == nil { callbackError = error }
            }
            rd_kafka_assign(handle.raw, nil)
            assignment = []
            positions = [:]
        }
    }

    /// Where each partition starts: the group's committed offset, else the log's start or end.
    private func startOffsets(_ partitions: Set<TopicPartition>) throws -> [TopicPartition: Int64] {
        let list = PartitionList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-1001)) }))
        let code = rd_kafka_committed(handle.raw, list.raw, cluster.settings.requestTimeoutMillis)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaHandle.error(code, "cannot read the committed offsets of group \"\(options.group)\"")
        }
        var starts: [TopicPartition: Int64] = [:]
        for (tp, committed) in PartitionList.read(list.raw).offsets {
            if committed >= 0 {
                starts[tp] = committed
            } else {
                let (low, high) = try handle.watermarks(tp, timeoutMillis: cluster.settings.requestTimeoutMillis)
                starts[tp] = options.autoOffsetReset == .latest ? high : low
            }
        }
        return starts
    }

    func poll(maxRecords: Int, maxBytes: Int, timeoutMillis: Int, interrupted: () -> Bool) throws
        -> [PartitionRecords]
    {
        let deadline = Time.monotonicNanos() + UInt64(max(0, timeoutMillis)) * 1_000_000
        let capacity = max(1, min(maxRecords, 10_000))
        var messages = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: capacity)
        while true {
            let now = Time.monotonicNanos()
            let wait = now < deadline ? min(Int((deadline - now) / 1_000_000), 100) : 0
            // What is there now, without waiting: librdkafka's batch call would wait for a full batch.
            var count = rd_kafka_consume_batch_queue(queue, 0, &messages, capacity)
            if count == 0 && wait > 0, let first = rd_kafka_consume_queue(queue, Int32(wait)) {
                messages[0] = first
                count = messages.withUnsafeMutableBufferPointer { buffer in
                    guard let rest = buffer.baseAddress?.advanced(by: 1), capacity > 1 else { return 1 }
                    return 1 + max(0, rd_kafka_consume_batch_queue(queue, 0, rest, capacity - 1))
                }
            }
            if let error = callbackError {
                callbackError = nil
                for index in 0..<max(0, count) { rd_kafka_message_destroy(messages[index]) }
                throw error
            }
            if count > 0 { return try collect(messages[0..<count], maxBytes: maxBytes) }
            if count < 0 {
                throw KafkaHandle.error(rd_kafka_last_error(), "group \"\(options.group)\" cannot read")
            }
            if Time.monotonicNanos() >= deadline || interrupted() { return [] }
        }
    }

    /// The messages as blocks per partition, in their order; destroys them.
    private func collect(_ messages: ArraySlice<UnsafeMutablePointer<rd_kafka_message_t>?>, maxBytes: Int) throws
        -> [PartitionRecords]
    {
        var blocks: [RecordBlock] = []
        var order: [TopicPartition] = []
        var slots: [TopicPartition: Int] = [:]
        var failure: BrokerError?
        struct Run {
            var handle: OpaquePointer?
            var partition: Int32 = -1
            var topic = ""
            var tp: TopicPartition?
            var owned = false
            var position: Int64 = 0
            var slot = 0
        }
        var run = Run()
        defer { for message in messages { rd_kafka_message_destroy(message) } }
        for case let message? in messages {
            let m = message.pointee
            guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                if failure == nil {
                    failure = KafkaHandle.error(m.err, "group \"\(options.group)\" cannot read")
                }
                continue
            }
            // Messages come in runs of one partition: the partition's state is looked up (its name made,
            // hashed) once per run, not per record.
            if m.rkt != run.handle || m.partition != run.partition {
                if let tp = run.tp { positions[tp] = run.position }
                let topic = m.rkt == run.handle ? run.topic : String(cString: rd_kafka_topic_name(m.rkt))
                let tp = TopicPartition(topic, m.partition)
                run = Run(handle: m.rkt, partition: m.partition, topic: topic, tp: tp)
                run.owned = assignment.contains(tp)
                run.position = positions[tp] ?? 0
                if run.owned {
                    run.slot = slots[tp] ?? blocks.count
                    if run.slot == blocks.count {
                        slots[tp] = run.slot
                        blocks.append(RecordBlock(capacity: messages.count, byteCapacity: messages.count * 256))
                        order.append(tp)
                    }
                }
            }
            // Records of a partition given up, or from before a seek, are not this reader's any more.
            guard run.owned, m.offset >= run.position else { continue }
            KafkaMessages.append(message, to: &blocks[run.slot])
            run.position = m.offset + 1
        }
        if let tp = run.tp { positions[tp] = run.position }
        if let failure, blocks.isEmpty { throw failure }
        return zip(order, blocks).map { PartitionRecords(topicPartition: $0, records: $1) }
    }

    /// Commits and waits for the cluster's answer, at most `request_timeout_ms` once a stop was asked (a
    /// synchronous commit to a coordinator that went away waits for librdkafka's retries, minutes).
    func commit(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        let list = PartitionList(offsets)
        guard let queue = rd_kafka_queue_new(handle.raw) else {
            throw BrokerError(.unavailable, "group \"\(options.group)\" cannot commit: librdkafka cannot make a queue")
        }
        defer { rd_kafka_queue_destroy(queue) }
        var code = rd_kafka_commit_queue(handle.raw, list.raw, queue, nil, nil)
        var partitionError = RD_KAFKA_RESP_ERR_NO_ERROR
        let started = Time.monotonicNanos()
        while code == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let event = rd_kafka_queue_poll(queue, 100) {
                defer { rd_kafka_event_destroy(event) }
                guard rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT else { continue }
                code = rd_kafka_event_error(event)
                if let committed = rd_kafka_event_topic_partition_list(event) {
                    partitionError = PartitionList.read(committed).error
                }
                break
            }
            let waited = Int((Time.monotonicNanos() - started) / 1_000_000)
            if StopRequest.isRequested && waited >= cluster.requestTimeoutMillis {
                throw BrokerError(
                    .unavailable,
                    "group \"\(options.group)\" cannot commit: the Kafka cluster did not answer within \(waited) ms"
                        + cluster.lastError)
            }
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, partitionError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaHandle.error(
                code != RD_KAFKA_RESP_ERR_NO_ERROR ? code : partitionError,
                "group \"\(options.group)\" cannot commit")
        }
        cluster.committed.notify()
    }

    func seek(_ tp: TopicPartition, to offset: Int64) {
        guard assignment.contains(tp) || seeks != nil else { return }
        if seeks != nil {
            seeks?[tp] = offset
            return
        }
        positions[tp] = offset
        let list = PartitionList([tp: offset])
        _ = rd_kafka_seek_partitions(handle.raw, list.raw, cluster.settings.requestTimeoutMillis)
    }

    func position(_ tp: TopicPartition) -> Int64? { positions[tp] }

    func owns(_ partitions: Set<TopicPartition>) -> Bool { partitions.isSubset(of: assignment) }

    /// librdkafka heartbeats on its own threads.
    func heartbeat() throws {}

    func close() {
        guard !closed else { return }
        closed = true
        // Leaves the group (the revoke callback closes the sink's partitions first).
        handle.closeConsumer(deadlineMillis: cluster.requestTimeoutMillis)
    }
}

/// Turning librdkafka's messages into records.
enum KafkaMessages {
    static func append(_ message: UnsafeMutablePointer<rd_kafka_message_t>, to block: inout RecordBlock) {
        let m = message.pointee
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &type)
        block.beginRecord(timestamp: timestamp, offset: m.offset)
        if let key = m.key {
            block.setKey(block.appendBytes(UnsafeRawBufferPointer(start: key, count: m.key_len)))
        }
        if let payload = m.payload {
            block.setValue(block.appendBytes(UnsafeRawBufferPointer(start: payload, count: m.len)))
        }
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return }
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            index += 1
            guard let name else { continue }
            let nameRange = block.appendBytes(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            let valueRange = value.map { block.appendBytes(UnsafeRawBufferPointer(start: $0, count: size)) }
            block.addHeader(name: nameRange, value: valueRange)
        }
    }
}
