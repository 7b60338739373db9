import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceBroker

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
}
