import SluiceCore
import Testing

@testable import SluiceRuntime

/// The fence that keeps an earlier owner of a partition from adding a dead letter after a new owner
/// read the dead-letter topic.
@Suite struct DeadLetterFenceTests {
    let p0 = TopicPartition("orders", 0)
    let p1 = TopicPartition("orders", 1)

    @Test func onlyTheLatestClaimWritesAndAClaimsScanSeesEveryEarlierWrite() throws {
        let fence = DeadLetterFence()
        let first = try fence.claim([p0, p1]) {}
        var written: [String] = []
        #expect(try fence.writing([p0], tokens: [p0: first, p1: first]) { written.append("first") })
        // Another task claims p1: from then on the first may write for p0 alone.
        let second = try fence.claim([p1]) { #expect(written == ["first"], "the scan sees what came before") }
        #expect(try !fence.writing([p0, p1], tokens: [p0: first, p1: first]) { written.append("late") })
        #expect(try fence.writing([p0], tokens: [p0: first, p1: first]) { written.append("p0") })
        #expect(try fence.writing([p1], tokens: [p1: second]) { written.append("second") })
        // A task that never claimed a partition writes nothing for it.
        #expect(try !fence.writing([TopicPartition("orders", 2)], tokens: [p0: first]) { written.append("none") })
        #expect(written == ["first", "p0", "second"])
    }
}
