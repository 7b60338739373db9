import Logging
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceFile

/// The file sink never removes committed output ahead of the records that replace it: after a reset
/// or a topic created again, old files stay until the same offsets are written anew and durable;
/// files of an attempt that was never committed go at once.
@Suite struct FileSinkReplacementTests {
    static let tp = TopicPartition("orders", 0)

    static func sink(_ folder: String) throws -> FileSink {
        let (options, problems) = FileSink.spec.validate(
            [(key: "path", value: .string(folder)), (key: "max_file_records", value: .number("1000000"))],
            path: "sinks.files")
        #expect(problems.isEmpty)
        return try FileSink(
            context: SinkContext(
                name: "files", task: 0, options: options, topics: ["orders"], logger: Logger(label: "t")))
    }

    /// A batch of records `offsets` of the test partition, valued `tag-offset`.
    static func batch(_ offsets: ClosedRange<Int64>, tag: String) -> SinkBatch {
        var block = RecordBlock()
        for offset in offsets {
            var record = Record(key: nil, value: Array("{\"n\":\"\(tag)-\(offset)\"}".utf8), timestamp: 1)
            record.offset = offset
            block.append(record)
        }
        return SinkBatch(partitions: [PartitionRecords(topicPartition: tp, records: block)])
    }

    static func files(_ folder: String) throws -> [String] {
        try FileSystem.contentsOfDirectory(folder).filter { !$0.hasPrefix(".") }
    }

    static func name(_ first: Int64, _ last: Int64) -> String {
        OutputFile.finalName(tp, first: first, last: last, extensionName: "jsonl")
    }

    /// Writes `offsets` as one committed delivery.
    static func deliver(_ sink: FileSink, _ offsets: ClosedRange<Int64>, tag: String) throws {
        #expect(try sink.write(batch(offsets, tag: tag)).isEmpty)
        try sink.flush()
    }

    @Test func aResetRemovesNothingAheadOfWhatReplacesIt() throws {
        let dir = TemporaryDirectory()
        let first = try Self.sink(dir.path)
        _ = try first.open(partitions: [Self.tp: 0], committedBefore: [:])
        try Self.deliver(first, 0...499, tag: "old")
        try Self.deliver(first, 500...999, tag: "old")
        first.stop()
        #expect(try Self.files(dir.path) == [Self.name(0, 499), Self.name(500, 999)])

        // The group was reset to 0 after committing 1000.
        let again = try Self.sink(dir.path)
        _ = try again.open(partitions: [Self.tp: 0], committedBefore: [Self.tp: 1000])
        #expect(try Self.files(dir.path).count == 2, "nothing removed when the task takes the partition")
        try Self.deliver(again, 0...599, tag: "new")
        #expect(try Self.files(dir.path) == [Self.name(0, 599), Self.name(500, 999)], "only what is replaced")
        // The run fails here: the records 600 to 999 are still in the old file.
        again.stop()
    }

    @Test func aTopicCreatedAgainKeepsTheOldFilesUntilReplaced() throws {
        let dir = TemporaryDirectory()
        let first = try Self.sink(dir.path)
        _ = try first.open(partitions: [Self.tp: 0], committedBefore: [:])
        try Self.deliver(first, 0...99, tag: "old")
        first.stop()
        // No commit on the partition any more (deleted with the topic): nothing counts as a leftover.
        let again = try Self.sink(dir.path)
        _ = try again.open(partitions: [Self.tp: 0], committedBefore: [:])
        #expect(try Self.files(dir.path) == [Self.name(0, 99)])
        try Self.deliver(again, 0...49, tag: "new")
        #expect(try Self.files(dir.path) == [Self.name(0, 49), Self.name(0, 99)])
        try Self.deliver(again, 50...120, tag: "new")
        #expect(try Self.files(dir.path) == [Self.name(0, 49), Self.name(50, 120)])
    }

    @Test func filesOfAnAttemptThatWasNeverCommittedGoAtOnce() throws {
        let dir = TemporaryDirectory()
        let first = try Self.sink(dir.path)
        _ = try first.open(partitions: [Self.tp: 0], committedBefore: [:])
        try Self.deliver(first, 0...99, tag: "a")
        try Self.deliver(first, 100...199, tag: "a")
        first.stop()
        // Committed up to 100; the second file was written and never committed.
        let again = try Self.sink(dir.path)
        _ = try again.open(partitions: [Self.tp: 100], committedBefore: [Self.tp: 100])
        #expect(try Self.files(dir.path) == [Self.name(0, 99)])
    }

    /// A file that holds records on both sides of the start (a reset into its middle, or a crash after
    /// one) makes the task start at the file's first offset, so that it is written whole again.
    @Test func aFileReachingBelowTheStartRewindsTheDelivery() throws {
        var plan = Replacement()
        let old = Replacement.Existing(name: "old", first: 0, last: 98)
        let kept = Replacement.Existing(name: "kept", first: 0, last: 8)
        let opening = plan.open(Self.tp, start: 10, committedBefore: 100, files: [kept, old])
        #expect(opening.rewind == 0)
        #expect(opening.leftovers.isEmpty)
        #expect(Set(plan.pending[Self.tp]?.map(\.name) ?? []) == ["old", "kept"])
        #expect(plan.replaceable(through: [Self.tp: 0...50]).map(\.name) == ["kept"])
        #expect(Set(plan.replaceable(through: [Self.tp: 51...98]).map(\.name)) == ["old", "kept"])

        // A delivery that could not start that far back replaces only what it covers.
        var late = Replacement()
        _ = late.open(Self.tp, start: 10, committedBefore: 100, files: [kept, old])
        #expect(late.replaceable(through: [Self.tp: 10...200]).isEmpty)
    }

    /// A reset into the middle of a file, then a run: the output holds every record once.
    @Test func aResetIntoTheMiddleOfAFileEndsExactlyOnce() throws {
        let dir = TemporaryDirectory()
        let first = try Self.sink(dir.path)
        _ = try first.open(partitions: [Self.tp: 0], committedBefore: [:])
        try Self.deliver(first, 0...999, tag: "a")
        first.stop()
        let again = try Self.sink(dir.path)
        let rewinds = try again.open(partitions: [Self.tp: 500], committedBefore: [Self.tp: 1000])
        #expect(rewinds == [Self.tp: 0])
        try Self.deliver(again, 0...999, tag: "b")
        #expect(try Self.files(dir.path) == [Self.name(0, 999)])
        let lines = try FileSystem.readFile(dir.file(Self.name(0, 999))).split(separator: 0x0A)
        #expect(lines.count == 1000)
    }
}
