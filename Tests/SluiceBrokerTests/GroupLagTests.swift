import SluiceCore
import SluiceLog
import SluiceTestSupport
import Testing

@testable import SluiceBroker

/// `groups describe` counts every record a group has still to read: partitions it has not committed on
/// count from their log start, also while the group runs in another process.
@Suite struct GroupLagTests {
    private typealias Support = BrokerTestSupport

    @Test func aPartitionWithoutACommitCountsFromItsLogStart() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic(
            "r",
            config: try Support.config(
                partitions: 2, ["segment_bytes": "1024", "retention_bytes": "2048", "retention_ms": "-1"]))
        let producer = try Producer(broker: broker, topic: "r")
        for send in 0..<20 {
            try producer.send(Support.block(5, tag: "s\(send)", keyed: false, valueSize: 100))
        }
        // Retention deletes what no group has committed on: partition 1's log now starts later.
        try broker.setCommittedOffsets("g", [TopicPartition("r", 0): broker.offsets(TopicPartition("r", 0)).end])
        _ = try broker.applyRetention()
        let tp1 = TopicPartition("r", 1)
        let (start, end) = try broker.offsets(tp1)
        #expect(start > 0)

        let description = try broker.describeGroup("g")
        #expect(description.partitions.map(\.topicPartition) == [TopicPartition("r", 0), tp1])
        let row = try #require(description.partitions.last)
        #expect(row.committed == nil)
        #expect(row.startOffset == start)
        #expect(row.lag == end - start)
        #expect(description.totalLag == end - start)
    }

    @Test func aRunningGroupWithoutCommitsShowsItsLagInAnotherProcess() throws {
        let dir = TemporaryDirectory()
        let writer = try Broker(dataDirectory: dir.path)
        try writer.createTopic("t", config: TopicConfig(partitions: 4))
        try Support.produce(writer, "t", count: 400)
        var options = GroupConsumer.Options(group: "running", topics: ["t"])
        options.memberId = "m1"
        let consumer = try GroupConsumer(broker: writer, options: options)
        defer { consumer.close() }
        _ = try consumer.poll(maxRecords: 1, maxBytes: 1 << 20, timeoutMillis: 100)

        // Another process reads the directory while the writer holds it: no commit yet, four owned
        // partitions, all 400 records still to write.
        let reader = try Broker(dataDirectory: dir.path, readOnly: true)
        #expect(reader.groupNames() == ["running"])
        let description = try reader.describeGroup("running")
        #expect(description.state == "Stable")
        #expect(description.members == ["m1"])
        #expect(description.partitions.count == 4)
        #expect(description.partitions.allSatisfy { $0.committed == nil && $0.member == "m1" })
        #expect(description.totalLag == 400)

        // What the writer appends and commits after the reader opened shows in the next look.
        try Support.produce(writer, "t", count: 100)
        try consumer.commit([TopicPartition("t", 0): 10])
        let later = try Broker(dataDirectory: dir.path, readOnly: true).describeGroup("running")
        #expect(later.partitions.first?.committed == 10)
        #expect(later.totalLag == 490)
    }
}
