import CRdKafka
import SluiceBroker
import SluiceCore

/// What librdkafka reported about the records of one `send`: how many are still unacknowledged, where
/// the acknowledged ones went, and the first failure. Delivery reports come on whichever thread polls
/// the shared producer handle, so the state is locked.
final class DeliveryTracker: @unchecked Sendable {
    struct State {
        var pending = 0
        var failure: String?
        var results: [Int32: Producer.PartitionResult] = [:]
    }
    let state = Locked(State())

    func delivered(partition: Int32, offset: Int64, error: rd_kafka_resp_err_t) {
        state.withLock { state in
            state.pending -= 1
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                if state.failure == nil { state.failure = String(cString: rd_kafka_err2str(error)) }
                return
            }
            if var result = state.results[partition] {
                result.baseOffset = min(result.baseOffset, offset)
                result.lastOffset = max(result.lastOffset, offset)
                result.records += 1
                state.results[partition] = result
            } else {
                state.results[partition] = Producer.PartitionResult(
                    partition: partition, baseOffset: offset, lastOffset: offset, records: 1)
            }
        }
    }
}

/// librdkafka's delivery report: the message's opaque is its send's tracker.
let deliveryReport:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) ->
        Void = { _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            let tracker = Unmanaged<DeliveryTracker>.fromOpaque(opaque).takeUnretainedValue()
            tracker.delivered(
                partition: message.pointee.partition, offset: message.pointee.offset, error: message.pointee.err)
        }

/// Writes blocks of records to one topic of the cluster through the process's idempotent producer
/// (acks=all): each record to the partition Kafka's default partitioner picks (as the embedded broker's
/// `Producer` does), and `send` returns once the cluster acknowledged every record of the block.
final class KafkaSender: RecordSender {
    let topic: String
    private let cluster: KafkaCluster
    private let handle: KafkaHandle
    private let topicHandle: OpaquePointer
    private var partitioner: Partitioner

    init(cluster: KafkaCluster, topic: String) throws {
        self.cluster = cluster
        self.topic = topic
        handle = try cluster.producer()
        guard let topicHandle = rd_kafka_topic_new(handle.raw, topic, nil) else {
            throw BrokerError(.invalidTopic, "topic \"\(topic)\": librdkafka cannot make a handle for it")
        }
        self.topicHandle = topicHandle
        let partitions = try cluster.partitionCount(topic)
        partitioner = Partitioner(partitions: partitions, start: Int32.random(in: 0..<partitions))
    }

    deinit {
        rd_kafka_topic_destroy(topicHandle)
    }

    func partition(of block: RecordBlock, at index: Int) -> Int32 {
        guard let range = block.keyRange(index) else { return partitioner.stickyPartition }
        return block.bytes.withUnsafeBytes {
            partitioner.partition(forKey: UnsafeRawBufferPointer(rebasing: $0[range]))
        }
    }

    @discardableResult
    func send(_ block: RecordBlock, now: Int64) throws -> [Producer.PartitionResult] {
        guard !block.isEmpty else { return [] }
        let tracker = DeliveryTracker()
        tracker.state.withLock { $0.pending = block.count }
        let opaque = Unmanaged.passRetained(tracker)
        defer { opaque.release() }
        var refused: String?
        block.bytes.withUnsafeBytes { arena in
            for index in 0..<block.count {
                let entry = block.entries[index]
                let partition = partition(of: block, at: index)
                let base = arena.baseAddress
                var headers: OpaquePointer?
                if entry.headerCount > 0 {
                    headers = rd_kafka_headers_new(Int(entry.headerCount))
                    for header in Int(entry.firstHeader)..<Int(entry.firstHeader + entry.headerCount) {
                        let h = block.headerEntries[header]
                        _ = rd_kafka_header_add(
                            headers, base?.advanced(by: Int(h.nameStart)), Int(h.nameLength),
                            h.valueLength < 0 ? nil : base?.advanced(by: Int(h.valueStart)), Int(max(h.valueLength, 0)))
                    }
                }
                let key = entry.keyLength < 0 ? nil : base?.advanced(by: Int(entry.keyStart))
                let value = entry.valueLength < 0 ? nil : base?.advanced(by: Int(entry.valueStart))
                let timestamp = entry.timestamp > 0 ? entry.timestamp : now
                while true {
                    let code = sluice_rd_produce(
                        handle.raw, topicHandle, partition, key, Int(max(entry.keyLength, 0)), value,
                        Int(max(entry.valueLength, 0)), headers, timestamp, opaque.toOpaque())
                    if code == RD_KAFKA_RESP_ERR_NO_ERROR { break }
                    if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                        rd_kafka_poll(handle.raw, 10)
                        continue
                    }
                    if let headers { rd_kafka_headers_destroy(headers) }
                    refused = String(cString: rd_kafka_err2str(code))
                    break
                }
                if refused != nil {
                    tracker.state.withLock { $0.pending -= block.count - index }
                    return
                }
            }
        }
        partitioner.nextBatch()
        // Every produced record gets a delivery report (a success, or a failure once message.timeout.ms
        // passed), so this wait ends.
        // `rd_kafka_flush` sends what lingers at once (a batch's tail would otherwise wait linger.ms) and
        // serves the delivery reports; it also waits for other threads' records, which share the handle.
        // A cluster that does not answer is told after request_timeout_ms; a stop asked meanwhile purges
        // what waits (the process's other sends fail too: it is stopping) instead of waiting for the
        // delivery timeout.
        let started = Time.monotonicNanos()
        var told = false
        var purged = false
        while tracker.state.withLock({ $0.pending > 0 }) {
            rd_kafka_flush(handle.raw, 100)
            let waited = Int((Time.monotonicNanos() - started) / 1_000_000)
            if StopRequest.isRequested && !purged && waited >= cluster.requestTimeoutMillis {
                purged = true
                _ = rd_kafka_purge(handle.raw, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            }
            if !told && waited >= cluster.settings.requestTimeoutMillis {
                told = true
                cluster.logger.warning(
                    "the Kafka cluster has not acknowledged records for \(waited / 1000) s; still waiting (up to message.timeout.ms); a stop request ends the wait",
                    metadata: ["topic": "\(topic)", "reason": "\(cluster.lastError)"])
            }
        }
        let (failure, results) = tracker.state.withLock { ($0.failure, $0.results) }
        if purged {
            throw BrokerError(
                .unavailable,
                "stopped while the Kafka cluster had not acknowledged records of topic \"\(topic)\"; the next run "
                    + "goes on from what it acknowledged\(cluster.lastError)")
        }
        if let reason = refused ?? failure {
            throw BrokerError(
                .unavailable,
                "the Kafka cluster did not store records of topic \"\(topic)\": \(reason)\(cluster.lastError)")
        }
        cluster.answered()
        for result in results.values {
            cluster.learned(TopicPartition(topic, result.partition), end: result.lastOffset + 1)
        }
        return results.values.sorted { $0.partition < $1.partition }
    }
}
