import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceBroker
@testable import SluiceLog

/// The highest offset a group ever committed: kept through resets, forgotten with the topic, and
/// unknown (never guessed) for commits stored before it was kept.
@Suite struct HighWaterTests {
    @Test func aResetDoesNotLowerItAndDeletingTheTopicForgetsIt() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("t", config: TopicConfig(partitions: 1))
        let tp = TopicPartition("t", 0)
        try broker.setCommittedOffsets("g", [tp: 40])
        try broker.setCommittedOffsets("g", [tp: 10])
        #expect(broker.committedOffsets("g")[tp] == 10)
        #expect(broker.committedHighWater("g")[tp] == 40)
        try broker.close()
        let reopened = try Broker(dataDirectory: dir.path)
        #expect(reopened.committedHighWater("g")[tp] == 40)
        try reopened.deleteTopic("t")
        #expect(reopened.committedHighWater("g")[tp] == nil)
    }

    /// A commit stored before the high water was kept has none: it stays unknown through later commits,
    /// so a sink never takes committed output for a leftover.
    @Test func aCommitWithoutAHighWaterKeepsItUnknown() throws {
        let legacy = OffsetStore.decodeValue(Array(#"{"offset":10,"commit_timestamp":5}"#.utf8))
        #expect(legacy?.highWater == nil)
        let next = OffsetStore.Committed(offset: 60, timestamp: 6, after: legacy)
        #expect(next.highWater == nil)
        #expect(OffsetStore.decodeValue(OffsetStore.encodeValue(next))?.highWater == nil)
        let fresh = OffsetStore.Committed(offset: 60, timestamp: 6, after: nil)
        #expect(fresh.highWater == 60)
    }

    /// A partition that ends with a control batch (no record a reader sees): a consumer steps over it
    /// and its commit reaches the end, so a run waiting for its sinks to catch up does not wait forever.
    @Test func aConsumerStepsOverATrailingControlBatch() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("t", config: TopicConfig(partitions: 1))
        let tp = TopicPartition("t", 0)
        try BrokerTestSupport.produce(broker, "t", count: 3)
        var builder = RecordBatchBuilder()
        builder.append(Record(key: nil, value: [0, 0, 0, 0], timestamp: 1))
        var control = try builder.build()
        control.withUnsafeMutableBytes { raw in
            raw.storeBigEndian(Int16(0x20 | 0x10), at: RecordBatchHeader.attributesOffset)
            let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: 0, totalSize: raw.count)
            raw.storeBigEndian(crc, at: RecordBatchHeader.crcOffset)
        }
        try broker.append(&control, to: tp)
        let end = try broker.offsets(tp).end
        #expect(end == 4)
        var options = GroupConsumer.Options(group: "g", topics: ["t"])
        options.memberId = "m"
        let consumer = try GroupConsumer(broker: broker, options: options)
        var next: Int64 = 0
        for _ in 0..<10 where next < end {
            for chunk in try consumer.poll(maxRecords: 100, maxBytes: 1 << 20, timeoutMillis: 50) {
                next = max(next, chunk.nextOffset ?? 0)
            }
        }
        #expect(next == end)
        try consumer.commit([tp: next])
        #expect(broker.committedOffsets("g")[tp] == end)
    }
}
