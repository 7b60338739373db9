/// Topic settings in Kafka's words: what a Kafka client asks for when it creates a topic on `sluice
/// daemon`, and what Sluice asks a Kafka cluster for when it creates a config's topics there.
extension TopicConfig {
    /// Settings a Kafka topic has too, by their Kafka names.
    static let kafkaNames: [(sluice: String, kafka: String)] = [
        ("segment_bytes", "segment.bytes"), ("segment_ms", "segment.ms"), ("retention_ms", "retention.ms"),
        ("retention_bytes", "retention.bytes"), ("max_message_bytes", "max.message.bytes"),
        ("index_interval_bytes", "index.interval.bytes"),
    ]

    /// Kafka topic configs this broker accepts and does not apply: they are about replicas, the log
    /// cleaner, tiered storage or message formats, which a single Sluice broker does not have.
    static let kafkaConfigsWithoutEffect: Set<String> = [
        "delete.retention.ms", "file.delete.delay.ms", "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
        "max.compaction.lag.ms", "message.downconversion.enable", "message.format.version",
        "message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.difference.max.ms",
        "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
        "preallocate", "remote.storage.enable", "segment.index.bytes", "segment.jitter.ms",
        "unclean.leader.election.enable",
    ]

    /// The name of the Kafka topic config that setting `name` becomes on a cluster; nil for the settings
    /// a Kafka cluster decides itself (flushing, Sluice's retention rules).
    public static func kafkaName(of name: String) -> String? {
        name == "compression" ? "compression.type" : kafkaNames.first { $0.sluice == name }?.kafka
    }

    /// The overrides a Kafka cluster has a config for, as Kafka topic configs. Flushing is left to the
    /// cluster: its durability comes from replication and `acks=all`, not from an fsync per batch.
    public var kafkaConfigs: [(name: String, value: String)] {
        var configs = Self.kafkaNames.compactMap { names in
            overrides[names.sluice] == nil ? nil : (names.kafka, value(of: names.sluice))
        }
        if compression != .none { configs.append(("compression.type", value(of: "compression"))) }
        return configs
    }

    /// Applies the configs of a Kafka client's CreateTopics request (a nil value keeps the default) and
    /// returns those accepted without effect. Throws, naming the config, for one Kafka does not have or a
    /// value this broker cannot honour.
    public mutating func apply(kafkaConfigs configs: [(name: String, value: String?)]) throws -> [String] {
        var withoutEffect: [String] = []
        // cleanup.policy first: an explicit retention in the same request wins over what it implies.
        let ordered = configs.filter { $0.name == "cleanup.policy" } + configs.filter { $0.name != "cleanup.policy" }
        for (name, value) in ordered {
            guard let value else { continue }
            func invalid(_ expected: String) -> BrokerError {
                BrokerError(.invalidConfig, "\(name): \(expected), not \"\(value)\"")
            }
            if let names = Self.kafkaNames.first(where: { $0.kafka == name }) {
                do {
                    try set(names.sluice, .string(value))
                } catch let error as BrokerError {
                    throw BrokerError(.invalidConfig, "\(name) (\(error.message))")
                }
                continue
            }
            switch name {
            case "compression.type":
                switch value {
                case "producer", "uncompressed": try set("compression", .string("none"))
                case "gzip": try set("compression", .string("gzip"))
                default:
                    throw invalid(
                        "expected producer, uncompressed or gzip (a producer's own snappy, lz4 or zstd batches are "
                            + "stored as they come with producer)")
                }
            case "cleanup.policy":
                let policies = Set(value.split(separator: ",").map { $0.filter { $0 != " " } })
                guard !policies.isEmpty, policies.isSubset(of: ["delete", "compact"]) else {
                    throw invalid("expected delete, compact or compact,delete")
                }
                // This broker does not compact: it keeps every record of a compacted topic, so that the
                // latest one of each key is never lost.
                if policies.contains("compact") {
                    try set("retention_ms", .string("-1"))
                    try set("retention_bytes", .string("-1"))
                    withoutEffect.append("cleanup.policy=compact (every record is kept, not compacted)")
                }
            case "flush.ms":
                try set("flush", .string("interval"))
                try set("flush_interval_ms", .string(value))
            case "flush.messages":
                if value == "1" { try set("flush", .string("batch")) } else { withoutEffect.append(name) }
            default:
                guard Self.kafkaConfigsWithoutEffect.contains(name) else {
                    throw BrokerError(.invalidConfig, "\(name): not a Kafka topic config this broker knows")
                }
                withoutEffect.append(name)
            }
        }
        return withoutEffect
    }
}
