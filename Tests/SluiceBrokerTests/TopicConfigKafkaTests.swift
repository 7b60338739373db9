import SluiceCore
import Testing

@testable import SluiceBroker

@Suite struct TopicConfigKafkaTests {
    @Test func aKafkaClientsTopicConfigsBecomeSluiceSettings() throws {
        var config = TopicConfig(partitions: 3)
        let withoutEffect = try config.apply(kafkaConfigs: [
            ("retention.ms", "3600000"), ("segment.bytes", "1048576"), ("max.message.bytes", "2097152"),
            ("compression.type", "gzip"), ("min.insync.replicas", "2"), ("flush.ms", "250"),
            ("retention.bytes", nil),
        ])
        #expect(config.value(of: "retention_ms") == "3600000")
        #expect(config.value(of: "segment_bytes") == "1048576")
        #expect(config.value(of: "max_message_bytes") == "2097152")
        #expect(config.compression == .gzip)
        #expect(config.logConfig.flush == .interval(millis: 250))
        #expect(config.overrides["retention_bytes"] == nil)
        #expect(withoutEffect == ["min.insync.replicas"])
    }

    @Test func aCompactedTopicKeepsEveryRecordUnlessARetentionIsGiven() throws {
        var kept = TopicConfig(partitions: 1)
        let notes = try kept.apply(kafkaConfigs: [("cleanup.policy", "compact")])
        #expect(kept.value(of: "retention_ms") == "-1" && kept.value(of: "retention_bytes") == "-1")
        #expect(notes.count == 1 && notes[0].hasPrefix("cleanup.policy=compact"))
        var bounded = TopicConfig(partitions: 1)
        _ = try bounded.apply(kafkaConfigs: [("retention.ms", "60000"), ("cleanup.policy", "compact,delete")])
        #expect(bounded.value(of: "retention_ms") == "60000")
    }

    @Test func configsKafkaDoesNotHaveOrThisBrokerCannotHonourAreRefusedByName() {
        let refused: [((String, String), String)] = [
            (("retention.mss", "1"), "retention.mss: not a Kafka topic config this broker knows"),
            (("retention.ms", "soon"), "retention.ms (retention_ms: expected an integer"),
            (("segment.bytes", "12"), "segment.bytes (segment_bytes: expected an integer from 1024"),
            (("compression.type", "lz4"), "compression.type: expected producer, uncompressed or gzip"),
            (("cleanup.policy", "shred"), "cleanup.policy: expected delete, compact or compact,delete"),
        ]
        for ((name, value), message) in refused {
            var config = TopicConfig(partitions: 1)
            #expect {
                _ = try config.apply(kafkaConfigs: [(name, value)])
            } throws: { error in
                guard let error = error as? BrokerError else { return false }
                return error.code == .invalidConfig && error.message.hasPrefix(message)
            }
        }
    }

    @Test func aConfigsTopicSettingsGoToAKafkaClusterByTheirKafkaNames() throws {
        let config = try TopicConfig(
            partitions: 4,
            overrides: [
                "retention_ms": .number("86400000"), "flush": .string("os"), "compression": .string("gzip"),
                "retention_respects_groups": .bool(false),
            ])
        #expect(
            config.kafkaConfigs.map { "\($0.name)=\($0.value)" } == ["retention.ms=86400000", "compression.type=gzip"])
        #expect(TopicConfig(partitions: 2).kafkaConfigs.isEmpty)
    }
}
