import CRdKafka
import SluiceBroker
import SluiceCore

/// How to reach a Kafka cluster: the `broker` section of a config with `"type": "kafka"`.
public struct KafkaClusterSettings: Sendable, Equatable {
    public var bootstrapServers: String
    /// Passed to librdkafka as they are (security settings included).
    public var properties: [String: String]
    /// For topics Sluice creates; -1 takes the cluster's default.
    public var replicationFactor: Int32
    /// How long a request to the cluster may take before it fails (metadata, offsets, topic creation).
    public var requestTimeoutMillis: Int32

    public init(
        bootstrapServers: String, properties: [String: String] = [:], replicationFactor: Int32 = -1,
        requestTimeoutMillis: Int32 = 10_000
    ) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.replicationFactor = replicationFactor
        self.requestTimeoutMillis = requestTimeoutMillis
    }

    /// Where a property of the config is, for errors.
    static func path(_ name: String) -> String { "broker.properties.\(name)" }
}

/// A librdkafka client handle (`rd_kafka_t`), destroyed with the object.
final class KafkaHandle: @unchecked Sendable {
    let raw: OpaquePointer
    /// What the handle's callbacks reach through its opaque: kept alive until `rd_kafka_destroy` has
    /// returned (librdkafka still logs while it shuts down).
    private let opaque: AnyObject?

    enum Kind { case producer, consumer }

    /// A handle with Sluice's `defaults` (which the user's properties may change), the cluster's
    /// settings, then `extra` (Sluice's own, which the user's properties
    /// cannot override where correctness depends on them), then `configure` on the raw configuration.
    init(
        _ kind: Kind, _ settings: KafkaClusterSettings, defaults: [(String, String)] = [],
        extra: [(String, String)] = [], opaque: AnyObject? = nil, configure: (OpaquePointer) -> Void = { _ in }
    ) throws(BrokerError) {
        self.opaque = opaque
        guard let conf = rd_kafka_conf_new() else {
            throw BrokerError(.unavailable, "librdkafka: cannot allocate a configuration")
        }
        var handedOver = false
        defer { if !handedOver { rd_kafka_conf_destroy(conf) } }
        try Self.set(conf, "bootstrap.servers", settings.bootstrapServers, path: "broker.bootstrap_servers")
        try Self.set(conf, "client.id", "sluice", path: "broker")
        // A request to a broker that went away fails after request_timeout_ms rather than librdkafka's
        // 60 s per try (a watermark query to a dead leader outlived its own timeout by minutes).
        let socketTimeout = String(max(10, settings.requestTimeoutMillis))
        try Self.set(conf, "socket.timeout.ms", socketTimeout, path: "broker.request_timeout_ms")
        for (name, value) in defaults { try Self.set(conf, name, value, path: "broker") }
        for (name, value) in settings.properties.sorted(by: { $0.key < $1.key }) {
            try Self.set(conf, name, value, path: KafkaClusterSettings.path(name))
        }
        for (name, value) in extra { try Self.set(conf, name, value, path: "broker") }
        configure(conf)
        var error = [CChar](repeating: 0, count: 512)
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        guard let handle = rd_kafka_new(type, conf, &error, error.count) else {
            throw BrokerError(.invalidConfig, "broker: librdkafka refused the settings: \(KafkaHandle.text(error))")
        }
        handedOver = true
        raw = handle
    }

    private static func set(_ conf: OpaquePointer, _ name: String, _ value: String, path: String) throws(BrokerError) {
        var error = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, name, value, &error, error.count) == RD_KAFKA_CONF_OK else {
            throw BrokerError(.invalidConfig, "\(path): \(KafkaHandle.text(error))")
        }
    }

    /// Set when a consumer's close gave up: destroying it must not try to close it again.
    private let closeAbandoned = Locked(false)

    deinit {
        guard closeAbandoned.withLock({ $0 }) else {
            rd_kafka_destroy(raw)
            return
        }
        // librdkafka's destroy still waits for the group's end, which a cluster that went away holds
        // up for the session timeout: it ends on a thread of its own, which the process does not wait for.
        let abandoned = Abandoned(raw: raw, opaque: opaque)
        WorkerThread(name: "kafka-close") {
            rd_kafka_destroy_flags(abandoned.raw, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
            _ = abandoned.opaque
        }.detach()
    }

    /// A handle whose close gave up, and what its callbacks reach, for the thread that destroys it.
    private struct Abandoned: @unchecked Sendable {
        let raw: OpaquePointer
        let opaque: AnyObject?
    }

    /// Closes a consumer: its assignment revoked (serving the rebalance callback), its group left. Gives
    /// up after `deadlineMillis`: a consumer whose cluster went away would otherwise wait out its session
    /// timeout (45 s for a Ctrl-C); the cluster then drops the member when its session ends, and nothing
    /// is lost, offsets being committed only after durable writes. Returns whether the consumer closed.
    @discardableResult
    func closeConsumer(deadlineMillis: Int32) -> Bool {
        guard let queue = rd_kafka_queue_new(raw) else {
            return rd_kafka_consumer_close(raw) == RD_KAFKA_RESP_ERR_NO_ERROR
        }
        defer { rd_kafka_queue_destroy(queue) }
        if let error = rd_kafka_consumer_close_queue(raw, queue) {
            rd_kafka_error_destroy(error)
            closeAbandoned.withLock { $0 = true }
            return false
        }
        let deadline = Time.monotonicNanos() + UInt64(max(0, deadlineMillis)) * 1_000_000
        while rd_kafka_consumer_closed(raw) == 0 {
            guard Time.monotonicNanos() < deadline else {
                closeAbandoned.withLock { $0 = true }
                return false
            }
            _ = rd_kafka_queue_poll_callback(queue, 100)
        }
        return true
    }

    /// The cluster's topics and their partition counts (internal topics included).
    func topics(timeoutMillis: Int32) throws(BrokerError) -> [String: Int32] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(raw, 1, nil, &metadata, timeoutMillis)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw Self.error(code, "cannot read the cluster's metadata")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int32] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = topic.topic else { continue }
            result[String(cString: name)] = topic.partition_cnt
        }
        return result
    }

    /// The first and the next offset of a partition.
    func watermarks(_ tp: TopicPartition, timeoutMillis: Int32) throws(BrokerError) -> (Int64, Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(raw, tp.topic, tp.partition, &low, &high, timeoutMillis)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw Self.error(code, "cannot read the offsets of \(tp)") }
        return (low, high)
    }

    /// The text librdkafka wrote into an error buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A BrokerError for a librdkafka error code.
    static func error(_ code: rd_kafka_resp_err_t, _ what: String) -> BrokerError {
        let text = String(cString: rd_kafka_err2str(code))
        switch code {
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
            return BrokerError(.topicNotFound, "\(what): \(text)")
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            return BrokerError(.topicNotFound, "\(what): \(text)")
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
            return BrokerError(.unknownMember, "\(what): \(text)")
        case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
            return BrokerError(.offsetOutOfRange, "\(what): \(text)")
        default:
            return BrokerError(.unavailable, "\(what): \(text)")
        }
    }
}

/// A librdkafka list of topic partitions, destroyed with the object.
final class PartitionList {
    let raw: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ offsets: [TopicPartition: Int64]) {
        raw = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(raw, tp.topic, tp.partition).pointee.offset = offset
        }
    }

    init(copying list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        raw = rd_kafka_topic_partition_list_copy(list)
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(raw)
    }

    /// Each partition of `list` with its offset, and the first error of one.
    static func read(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> (
        offsets: [TopicPartition: Int64], error: rd_kafka_resp_err_t
    ) {
        var offsets: [TopicPartition: Int64] = [:]
        var error = RD_KAFKA_RESP_ERR_NO_ERROR
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            offsets[TopicPartition(String(cString: element.topic), element.partition)] = element.offset
            if element.err != RD_KAFKA_RESP_ERR_NO_ERROR && error == RD_KAFKA_RESP_ERR_NO_ERROR { error = element.err }
        }
        return (offsets, error)
    }
}
