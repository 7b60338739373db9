import SluiceCore
import SluiceLog
import SluiceTestSupport
import Testing

@testable import SluiceBroker

@Suite struct RetentionAndOffsetsTests {
    private typealias Support = BrokerTestSupport
    private static let tp = TopicPartition("r", 0)

    /// A one-partition topic `r` of small segments (one batch of five records each) holding 100 records,
    /// and a size limit that wants most of them gone.
    private func smallSegments(_ dir: TemporaryDirectory, respectGroups: Bool = true) throws -> Broker {
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("r", config: try settings(respectGroups: respectGroups))
        let producer = try Producer(broker: broker, topic: "r")
        for send in 0..<20 {
            try producer.send(Support.block(5, tag: "s\(send)", keyed: false, valueSize: 100))
        }
        #expect(try broker.offsets(Self.tp) == (0, 100))
        #expect(try broker.describeTopic("r")[0].segments.count == 20)
        return broker
    }

    private func settings(respectGroups: Bool) throws -> TopicConfig {
        try Support.config(
            partitions: 1,
            [
                "segment_bytes": "1024", "retention_bytes": "2048", "retention_ms": "-1",
                "retention_respects_groups": respectGroups ? "true" : "false",
            ]
        )
    }

    @Test func retentionKeepsWhatAGroupHasNotConsumed() throws {
        let dir = TemporaryDirectory()
        let broker = try smallSegments(dir)
        try broker.setCommittedOffsets("slow", [Self.tp: 25])
        try broker.setCommittedOffsets("fast", [Self.tp: 90])
        let before = try broker.describeTopic("r")[0].segments

        let results = try broker.applyRetention()
        let result = try #require(results[Self.tp])
        #expect(result.heldBackByGroups > 0)
        #expect(result.unconsumedSkipped == 0)
        // Exactly the segments the slowest group has finished with went.
        #expect(result.deletedSegments == before.filter { $0.nextOffset <= 25 }.count)
        #expect(result.deletedSegments > 0)
        #expect(result.newStartOffset <= 25)
        let after = try broker.describeTopic("r")[0]
        #expect(after.startOffset == result.newStartOffset)
        #expect(after.endOffset == 100)
        #expect(after.sizeInBytes > 2048)
        let records = try Support.readAll(broker, Self.tp, from: 25)
        #expect(records.map(\.offset) == Array(25..<100))

        // A second pass has nothing more to delete and says what it keeps back.
        let again = try broker.applyRetention()
        #expect(again[Self.tp]?.deletedSegments == 0)
        #expect(again[Self.tp]?.heldBackByGroups == result.heldBackByGroups)
    }

    @Test func retentionThatIgnoresGroupsCountsWhatItSkipped() throws {
        let dir = TemporaryDirectory()
        let broker = try smallSegments(dir)
        try broker.setCommittedOffsets("slow", [Self.tp: 25])
        try broker.setTopicConfig("r", try settings(respectGroups: false))

        let result = try #require(try broker.applyRetention()[Self.tp])
        #expect(result.heldBackByGroups == 0)
        #expect(result.newStartOffset > 25)
        #expect(result.unconsumedSkipped == result.newStartOffset - 25)
        let after = try broker.describeTopic("r")[0]
        #expect(after.startOffset == result.newStartOffset)
        // What is left is as small as whole segments allow.
        #expect(after.sizeInBytes >= 2048)
        #expect(after.sizeInBytes - (after.segments.first?.sizeInBytes ?? 0) < 2048)
        #expect(throws: BrokerError.self) { _ = try broker.read(Self.tp, from: 25, maxBytes: 1 << 16) }

        // The group whose committed offset is gone starts over at the log start.
        let consumer = try GroupConsumer(broker: broker, options: GroupConsumer.Options(group: "slow", topics: ["r"]))
        let polled = try Support.poll(consumer, count: Int(100 - result.newStartOffset))
        #expect(polled.first?.offset == result.newStartOffset)
        #expect(polled.map(\.offset) == Array(result.newStartOffset..<100))
        #expect(broker.committedOffsets("slow") == [Self.tp: 100])
    }

    @Test func retentionWithoutGroupsFollowsTheSizeLimit() throws {
        let dir = TemporaryDirectory()
        let broker = try smallSegments(dir)
        let result = try #require(try broker.applyRetention()[Self.tp])
        #expect(result.heldBackByGroups == 0)
        #expect(result.unconsumedSkipped == 0)
        #expect(result.deletedSegments > 0)
        let after = try broker.describeTopic("r")[0]
        #expect(after.sizeInBytes - (after.segments.first?.sizeInBytes ?? 0) < 2048)
        // Nothing to do leaves no entry.
        #expect(try broker.applyRetention().isEmpty)
    }

    @Test func retentionByAgeKeepsWhatAGroupStillNeeds() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        let config = try Support.config(partitions: 1, ["segment_bytes": "1024", "retention_ms": "1000"])
        try broker.createTopic("aged", config: config)
        let tp = TopicPartition("aged", 0)
        // Six segments of one batch of ten records each.
        let producer = try Producer(broker: broker, topic: "aged")
        for send in 0..<6 { try producer.send(Support.block(10, tag: "a\(send)", keyed: false, valueSize: 100)) }
        #expect(try broker.describeTopic("aged")[0].segments.count == 6)
        try broker.setCommittedOffsets("g", [tp: 30])
        // Record timestamps are around 1000; long after, every segment is past its age.
        let held = try #require(try broker.applyRetention(now: 1_000_000)[tp])
        #expect(held.deletedSegments == 3)
        #expect(held.heldBackByGroups == 3)
        #expect(held.newStartOffset == 30)
        #expect(try broker.offsets(tp) == (30, 60))
        try broker.setCommittedOffsets("g", [tp: 60])
        let all = try #require(try broker.applyRetention(now: 1_000_000)[tp])
        #expect(all.deletedSegments == 3)
        #expect(all.heldBackByGroups == 0)
        #expect(try broker.offsets(tp) == (60, 60))
        // The log goes on from where it was.
        let results = try Support.produce(broker, "aged", count: 1, keyed: false)
        #expect(results.first?.baseOffset == 60)
    }

    @Test func offsetStoreCompactsAndKeepsTheLatestOffsets() throws {
        let dir = TemporaryDirectory()
        let partitions = (0..<Int32(1_000)).map { TopicPartition("wide", $0) }
        let groups = (0..<12).map { "busy-\($0)" }
        var latest: [String: [TopicPartition: Int64]] = [:]
        let early = [TopicPartition("wide", 0): Int64(7)]
        do {
            let broker = try Broker(dataDirectory: dir.path)
            try broker.createTopic("gone", config: TopicConfig(partitions: 1))
            try broker.setCommittedOffsets("early", early)
            try broker.setCommittedOffsets("early", [TopicPartition("gone", 0): 3])
            try broker.deleteTopic("gone")
            // About 100 bytes a record: 60 commits of 1000 offsets pass the 4 MiB that trigger compaction,
            // and the 12,000 live entries take more than one batch to rewrite.
            for round in 0..<60 {
                let group = groups[round % groups.count]
                let offsets = partitions.map { ($0, Int64(round) * 10_000 + Int64($0.partition)) }
                latest[group] = Dictionary(uniqueKeysWithValues: offsets)
                try broker.setCommittedOffsets(group, latest[group] ?? [:])
            }
            let log = try broker.describeTopic(Broker.offsetsTopic)[0]
            #expect(log.startOffset > 0)
            #expect(log.segments.count <= 2)
            #expect(log.sizeInBytes < 2 * CompactedStore.compactionBytes)
            try broker.close()
        }
        let folder = dir.file(Broker.offsetsTopic + "-0")
        let logFiles = try FileSystem.contentsOfDirectory(folder).filter { $0.hasSuffix(".log") }
        #expect(logFiles.count <= 2)

        let reopened = try Broker(dataDirectory: dir.path)
        for group in groups { #expect(reopened.committedOffsets(group) == latest[group]) }
        #expect(reopened.committedOffsets("early") == early)
        #expect(reopened.groupNames() == (groups + ["early"]).sorted())
        // Commits go on after a compaction and a reopen.
        try reopened.setCommittedOffsets("early", [TopicPartition("wide", 0): 8])
        try reopened.close()
        let third = try Broker(dataDirectory: dir.path)
        #expect(third.committedOffsets("early") == [TopicPartition("wide", 0): 8])
        #expect(third.committedOffsets("busy-0") == latest["busy-0"])
    }
}
