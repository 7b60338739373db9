import Glibc
import SluiceBroker
import SluiceCore
import SluiceLog
import SluiceTestSupport
import Testing

@Suite struct BrokerTests {
    private typealias Support = BrokerTestSupport

    /// The error `body` throws, when it is a `BrokerError`.
    private func brokerError(_ body: () throws -> Void) -> BrokerError? {
        do {
            try body()
            return nil
        } catch let error as BrokerError {
            return error
        } catch {
            Issue.record("expected a BrokerError, got \(error)")
            return nil
        }
    }

    @Test func createListDescribeRaiseAndDeleteTopics() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        #expect(broker.topicNames(includeInternal: false) == [])
        #expect(broker.topicNames() == Broker.internalTopics.sorted())

        try broker.createTopic("orders", config: TopicConfig(partitions: 3))
        try broker.createTopic("audit.log_v1", config: TopicConfig(partitions: 1))
        #expect(broker.topicNames(includeInternal: false) == ["audit.log_v1", "orders"])
        #expect(broker.topicNames() == Broker.internalTopics.sorted() + ["audit.log_v1", "orders"])
        #expect(try broker.partitionCount("orders") == 3)
        #expect(
            brokerError { try broker.createTopic("orders", config: TopicConfig(partitions: 5)) }?.code == .topicExists)
        #expect(try broker.ensureTopic("orders", config: TopicConfig(partitions: 5)) == false)
        #expect(try broker.partitionCount("orders") == 3)
        #expect(try broker.ensureTopic("fresh") == true)
        for partition in 0..<3 { #expect(FileSystem.isDirectory(dir.file("orders-\(partition)"))) }

        try Support.produce(broker, "orders", count: 30)
        let described = try broker.describeTopic("orders")
        #expect(described.map(\.partition) == [0, 1, 2])
        #expect(described.allSatisfy { $0.startOffset == 0 && $0.segments.count == 1 })
        #expect(described.reduce(0) { $0 + $1.endOffset } == 30)
        #expect(described.allSatisfy { $0.endOffset == 0 || $0.sizeInBytes > 0 })

        // Raising works, the same count is a no-op, lowering is refused.
        try broker.setPartitionCount("orders", to: 5, allowKeyRemap: true)
        #expect(try broker.partitionCount("orders") == 5)
        #expect(try broker.describeTopic("orders").map(\.endOffset).suffix(2) == [0, 0])
        #expect(try broker.describeTopic("orders").prefix(3).map(\.endOffset) == described.map(\.endOffset))
        try broker.setPartitionCount("orders", to: 5)
        let lower = brokerError { try broker.setPartitionCount("orders", to: 2) }
        #expect(lower?.code == .invalidPartitions)
        #expect(lower?.message.contains("never lowered") == true)
        #expect(try broker.partitionCount("orders") == 5)
        #expect(brokerError { try broker.setPartitionCount("orders", to: 10_001) }?.code == .invalidPartitions)
        #expect(brokerError { try broker.setPartitionCount("missing", to: 2) }?.code == .topicNotFound)

        try broker.deleteTopic("orders")
        #expect(broker.topicNames(includeInternal: false) == ["audit.log_v1", "fresh"])
        #expect(broker.topicConfig("orders") == nil)
        for partition in 0..<5 { #expect(!FileSystem.exists(dir.file("orders-\(partition)"))) }
        #expect(brokerError { _ = try broker.describeTopic("orders") }?.code == .topicNotFound)
        #expect(brokerError { try broker.deleteTopic("orders") }?.code == .topicNotFound)
        #expect(brokerError { _ = try broker.offsets(TopicPartition("orders", 0)) }?.code == .topicNotFound)
        #expect(brokerError { _ = try broker.offsets(TopicPartition("fresh", 1)) }?.code == .invalidPartitions)
    }

    @Test(arguments: [0, -1, 10_001] as [Int32])
    func partitionCountsOutOfRangeAreRefused(partitions: Int32) throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        let error = brokerError { try broker.createTopic("t", config: TopicConfig(partitions: partitions)) }
        #expect(error?.code == .invalidPartitions)
        #expect(broker.topicConfig("t") == nil)
    }

    @Test(arguments: [
        "", ".", "..", "with space", "slash/name", "ünïcode", "semi;colon", String(repeating: "x", count: 250),
    ])
    func invalidTopicNamesAreRefused(name: String) throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        let error = brokerError { try broker.createTopic(name, config: TopicConfig()) }
        #expect(error?.code == .invalidTopic)
        #expect(broker.topicNames(includeInternal: false) == [])
    }

    @Test func internalTopicNamesAreReserved() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        for name in ["__consumer_offsets", "__mine", "__"] {
            let error = brokerError { try broker.createTopic(name, config: TopicConfig()) }
            #expect(error?.code == .invalidTopic)
            #expect(error?.message.contains("reserved") == true)
        }
        #expect(brokerError { try broker.deleteTopic(Broker.offsetsTopic) }?.code == .invalidTopic)
        #expect(brokerError { try broker.setPartitionCount(Broker.offsetsTopic, to: 4) }?.code == .invalidTopic)
        #expect(TopicName.isInternal("__x"))
        #expect(!TopicName.isInternal("_x"))
        #expect(TopicName.problem("_x") == nil)
    }

    @Test func longestValidNameCanBeCreatedAndDeleted() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        let name = String(repeating: "n", count: TopicName.maxLength)
        try broker.createTopic(name, config: TopicConfig(partitions: 2))
        try Support.produce(broker, name, count: 4)
        try broker.deleteTopic(name)
        #expect(broker.topicConfig(name) == nil)
        #expect(try FileSystem.contentsOfDirectory(dir.path).allSatisfy { !$0.hasPrefix("nnn") })
    }

    @Test func unknownSettingsSuggestTheClosestName() throws {
        var config = TopicConfig(partitions: 1)
        let typo = brokerError { try config.set("retention_msx", .number("1000")) }
        #expect(typo?.code == .invalidConfig)
        #expect(typo?.message.contains("did you mean \"retention_ms\"?") == true)
        let swapped = brokerError { try config.set("segmnet_bytes", .number("4096")) }
        #expect(swapped?.message.contains("did you mean \"segment_bytes\"?") == true)
        let unknown = brokerError { try config.set("colour", .string("blue")) }
        #expect(unknown?.code == .invalidConfig)
        #expect(unknown?.message.contains("did you mean") == false)
        #expect(config.overrides.isEmpty)
    }

    @Test(arguments: [
        ("segment_bytes", JSONValue.string("abc")),
        ("segment_bytes", .number("100")),
        ("segment_bytes", .number("1.5")),
        ("retention_ms", .number("-2")),
        ("retention_bytes", .bool(true)),
        ("retention_respects_groups", .string("maybe")),
        ("retention_respects_groups", .number("1")),
        ("flush", .string("sometimes")),
        ("compression", .string("zstd")),
        ("compression", .number("1")),
        ("max_message_bytes", .number("10")),
    ])
    func badSettingValuesAreRefused(name: String, value: JSONValue) {
        var config = TopicConfig(partitions: 1)
        let error = brokerError { try config.set(name, value) }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.hasPrefix(name) == true)
        #expect(config.overrides.isEmpty)
        #expect(config == TopicConfig(partitions: 1))
    }

    @Test func settingsAreNormalizedAndReachTheLogConfig() throws {
        var config = TopicConfig(partitions: 2)
        try config.set("segment_bytes", .string("4096"))
        try config.set("retention_respects_groups", .string("false"))
        try config.set("compression", .string("gzip"))
        try config.set("flush", .string("interval"))
        try config.set("flush_interval_ms", .number("250"))
        #expect(config.value(of: "segment_bytes") == "4096")
        #expect(config.value(of: "retention_ms") == "604800000")
        #expect(!config.retentionRespectsGroups)
        #expect(config.compression == .gzip)
        #expect(config.logConfig.segmentBytes == 4096)
        #expect(config.logConfig.flush == .interval(millis: 250))
        #expect(TopicConfig().logConfig.flush == .everyBatch)
        #expect(TopicConfig().retentionRespectsGroups)
        let parsed = try TopicConfig(partitions: 2, overrides: ["segment_bytes": .number("4096")])
        #expect(parsed.value(of: "segment_bytes") == "4096")
        #expect(throws: BrokerError.self) { try TopicConfig(partitions: 2, overrides: ["segment_byte": .number("1")]) }
    }

    @Test func topicSettingsPersistAcrossReopen() throws {
        let dir = TemporaryDirectory()
        let created = try Support.config(partitions: 2, ["segment_bytes": "8192", "compression": "gzip"])
        var changed = try Support.config(partitions: 2, ["retention_ms": "-1", "retention_respects_groups": "false"])
        do {
            let broker = try Broker(dataDirectory: dir.path)
            try broker.createTopic("kept", config: created)
            try broker.createTopic("changed", config: created)
            try broker.setTopicConfig("changed", changed)
            try Support.produce(broker, "kept", count: 10)
            #expect(try broker.log(TopicPartition("changed", 0)).config.retentionMs == -1)
            try broker.close()
        }
        let reopened = try Broker(dataDirectory: dir.path)
        #expect(reopened.topicNames(includeInternal: false) == ["changed", "kept"])
        #expect(reopened.topicConfig("kept") == created)
        #expect(reopened.topicConfig("changed") == changed)
        #expect(reopened.topicConfig("changed")?.value(of: "compression") == "none")
        #expect(try reopened.log(TopicPartition("kept", 1)).config.segmentBytes == 8192)
        #expect(try reopened.describeTopic("kept").reduce(0) { $0 + $1.endOffset } == 10)
        // Gzip batches read back whole.
        let records = try (0..<Int32(2)).flatMap { try Support.readAll(reopened, TopicPartition("kept", $0)) }
        #expect(Set(records.map(Support.text)) == Set((0..<10).map { "r-v\($0)" }))
        // The partition count given to setTopicConfig is ignored.
        changed.partitions = 9
        try reopened.setTopicConfig("changed", changed)
        #expect(try reopened.partitionCount("changed") == 2)
    }

    @Test func aSecondWriterIsRefusedAndNamesTheOwner() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("t", config: TopicConfig(partitions: 1))
        let error = brokerError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.code == .directoryInUse)
        #expect(error?.message.contains("process \(getpid())") == true)
        #expect(error?.message.contains(dir.path) == true)
        #expect(DirectoryLock.owner(ofDirectory: dir.path) == getpid())
        // The lock file records the holder's command line too, and the error names it.
        let command = CommandLine.arguments.joined(separator: " ")
        #expect(DirectoryLock.holder(ofDirectory: dir.path) == DirectoryLock.Holder(pid: getpid(), command: command))
        #expect(error?.message.contains("process \(getpid()) (`\(command)`)") == true)
        // The first broker goes on working.
        try Support.produce(broker, "t", count: 3)
        #expect(try broker.offsets(TopicPartition("t", 0)).end == 3)
    }

    @Test func closeReleasesTheDirectory() throws {
        let dir = TemporaryDirectory()
        let first = try Broker(dataDirectory: dir.path)
        try first.createTopic("t", config: TopicConfig(partitions: 1))
        try Support.produce(first, "t", count: 2)
        try first.close()
        #expect(DirectoryLock.owner(ofDirectory: dir.path) == nil)
        let second = try Broker(dataDirectory: dir.path)
        #expect(try second.offsets(TopicPartition("t", 0)).end == 2)
        #expect(throws: (any Error).self) { try Support.produce(first, "t", count: 1) }
        withExtendedLifetime(first) {}
    }

    @Test func aReadOnlyBrokerReadsWhatTheWriterAppends() throws {
        let dir = TemporaryDirectory()
        let writer = try Broker(dataDirectory: dir.path)
        try writer.createTopic("t", config: TopicConfig(partitions: 2))
        try Support.produce(writer, "t", count: 20)

        let reader = try Broker(dataDirectory: dir.path, readOnly: true)
        #expect(reader.isReadOnly)
        #expect(reader.topicNames(includeInternal: false) == ["t"])
        let ends = try writer.describeTopic("t").map(\.endOffset)
        #expect(try reader.describeTopic("t").map(\.endOffset) == ends)
        let tp = TopicPartition("t", 0)
        #expect(try Support.readAll(reader, tp) == Support.readAll(writer, tp))

        // What the writer appends later shows up in the reader.
        try Support.produce(writer, "t", count: 20, tag: "later")
        let later = try writer.describeTopic("t").map(\.endOffset)
        #expect(try reader.describeTopic("t").map(\.endOffset) == later)
        #expect(try reader.offsets(tp).end == later[0])
        #expect(try Support.readAll(reader, tp).count == Int(later[0]))

        // A reader writes nothing.
        #expect(brokerError { try reader.createTopic("u", config: TopicConfig()) }?.code == .readOnly)
        #expect(brokerError { try reader.deleteTopic("t") }?.code == .readOnly)
        #expect(brokerError { try reader.setPartitionCount("t", to: 3) }?.code == .readOnly)
        #expect(brokerError { try reader.setCommittedOffsets("g", [tp: 1]) }?.code == .readOnly)
        #expect(brokerError { try reader.applyRetention() }?.code == .readOnly)
        #expect(brokerError { _ = try Producer(broker: reader, topic: "t").send(Support.block(1)) }?.code == .readOnly)
    }

    @Test func readOnlyNeedsAnExistingDirectory() {
        let dir = TemporaryDirectory()
        let error = brokerError { _ = try Broker(dataDirectory: dir.file("missing"), readOnly: true) }
        #expect(error?.code == .storage)
        #expect(!FileSystem.exists(dir.file("missing")))
    }

    @Test func aRecreatedTopicStartsEmpty() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("t", config: TopicConfig(partitions: 2))
        try Support.produce(broker, "t", count: 40)
        let tp = TopicPartition("t", 0)
        try broker.setCommittedOffsets("g", [tp: 5])
        try broker.deleteTopic("t")
        #expect(broker.committedOffsets("g").isEmpty)

        try broker.createTopic("t", config: TopicConfig(partitions: 3))
        #expect(try broker.describeTopic("t").map(\.endOffset) == [0, 0, 0])
        #expect(try Support.readAll(broker, tp).isEmpty)
        try Support.produce(broker, "t", count: 3, keyed: false)
        #expect(try broker.describeTopic("t").allSatisfy { $0.startOffset == 0 && $0.endOffset <= 3 })
        #expect(broker.committedOffsets("g").isEmpty)
        try broker.close()

        let reopened = try Broker(dataDirectory: dir.path)
        #expect(reopened.committedOffsets("g").isEmpty)
        #expect(try reopened.describeTopic("t").reduce(0) { $0 + $1.endOffset } == 3)
    }

    @Test func leftoversOfAnInterruptedDeletionAreRemovedOnOpen() throws {
        let dir = TemporaryDirectory()
        do {
            let broker = try Broker(dataDirectory: dir.path)
            try broker.createTopic("t", config: TopicConfig(partitions: 1))
            try broker.close()
        }
        try FileSystem.createDirectory(dir.file("gone-0.deleted"))
        _ = try Broker(dataDirectory: dir.path)
        #expect(!FileSystem.exists(dir.file("gone-0.deleted")))
        #expect(FileSystem.isDirectory(dir.file("t-0")))
    }

    /// Raising the partitions of a topic written by key would send a key's new records to another
    /// partition than its older ones: refused unless allowed; a topic without keys is raised freely.
    @Test func raisingThePartitionsOfAKeyedTopicNeedsPermission() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("kv", config: TopicConfig(partitions: 3))
        try broker.createTopic("plain", config: TopicConfig(partitions: 3))
        try broker.createTopic("declared", config: TopicConfig(partitions: 1))
        try Support.produce(broker, "kv", count: 30)
        try Support.produce(broker, "plain", count: 30, keyed: false)
        try broker.setTopicSchema("declared", .object([("types", .object([])), ("key", .array([.string("id")]))]))

        for topic in ["kv", "declared"] {
            #expect(try broker.isWrittenByKey(topic))
            let error = brokerError { try broker.setPartitionCount(topic, to: 6) }
            #expect(error?.code == .invalidPartitions)
            #expect(error?.message.contains("--allow-key-remap") == true)
            #expect(broker.topicConfig(topic)?.partitions != 6)
            try broker.setPartitionCount(topic, to: 6, allowKeyRemap: true)
            #expect(broker.topicConfig(topic)?.partitions == 6)
        }
        #expect(try !broker.isWrittenByKey("plain"))
        try broker.setPartitionCount("plain", to: 6)
        #expect(broker.topicConfig("plain")?.partitions == 6)
    }
}
