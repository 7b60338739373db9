import SluiceCore
import Testing

@testable import SluiceRuntime

/// Where `sluice consume` starts: kcat's `-o` values, the options that do not go together, and the
/// hint when the start at the end finds nothing.
@Suite struct ConsoleConsumerStartTests {
    typealias Start = ConsoleConsumer.StartOffset

    @Test func offsetsAsKcatWritesThem() throws {
        #expect(try Start(parsing: "beginning") == .beginning)
        #expect(try Start(parsing: "end") == .end)
        #expect(try Start(parsing: "stored") == .stored)
        #expect(try Start(parsing: "1234") == .absolute(1234))
        #expect(try Start(parsing: "-10") == .fromEnd(10))
        #expect(try Start(parsing: "-9223372036854775808") == .fromEnd(.max))
        for text in ["", "first", "10k", "s@1700000000000", "--5"] {
            #expect(throws: RuntimeError.self, "\(text)") { try Start(parsing: text) }
        }
    }

    @Test func startPositionsPerPartition() {
        let ranges = [
            (tp: TopicPartition("t", 0), start: Int64(0), end: Int64(100)),
            (tp: TopicPartition("t", 1), start: Int64(50), end: Int64(60)),
            (tp: TopicPartition("t", 2), start: Int64(0), end: Int64(0)),
        ]
        func positions(_ offset: Start?, fromBeginning: Bool = false) -> ([Int64], Int) {
            var consumer = ConsoleConsumer(topic: "t")
            consumer.offset = offset
            consumer.fromBeginning = fromBeginning
            let (positions, notes) = consumer.startPositions(ranges)
            return (positions, notes.count)
        }
        #expect(positions(nil) == ([100, 60, 0], 0))
        #expect(positions(nil, fromBeginning: true) == ([0, 50, 0], 0))
        #expect(positions(.beginning) == ([0, 50, 0], 0))
        #expect(positions(.end) == ([100, 60, 0], 0))
        #expect(positions(.fromEnd(20)) == ([80, 50, 0], 0))
        #expect(positions(.fromEnd(.max)) == ([0, 50, 0], 0))
        // An offset outside a partition starts at its first record or its end, with a note each.
        #expect(positions(.absolute(55)) == ([55, 55, 0], 1))
        #expect(positions(.absolute(10)) == ([10, 50, 0], 2))
    }

    @Test func optionsThatDoNotGoTogether() {
        /// The error `checkOptions` gives for these options, or nil.
        func problem(_ offset: Start?, fromBeginning: Bool = false, group: String? = nil, partition: Int32? = nil)
            -> String?
        {
            var consumer = ConsoleConsumer(topic: "t")
            (consumer.offset, consumer.fromBeginning) = (offset, fromBeginning)
            (consumer.group, consumer.partition) = (group, partition)
            do {
                try consumer.checkOptions()
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(.stored)?.contains("needs --group") == true)
        #expect(problem(.beginning, fromBeginning: true)?.contains("--from-beginning") == true)
        #expect(problem(nil, group: "g", partition: 1)?.contains("--partition cannot be used with --group") == true)
        #expect(problem(.absolute(5), group: "g")?.contains("reset-offsets") == true)
        #expect(problem(.fromEnd(5), group: "g") != nil)
        #expect(problem(nil, partition: -1) != nil)
        #expect(problem(.stored, group: "g") == nil)
        #expect(problem(.beginning, group: "g") == nil)
        #expect(problem(.fromEnd(10), partition: 3) == nil)
    }

    @Test func theHintCountsTheStoredRecordsOnlyForTheDefaultStart() {
        var consumer = ConsoleConsumer(topic: "orders")
        #expect(
            consumer.emptyEndHint(stored: 3_995, groupWithoutCommits: nil)
                == "no new records; the topic has 3,995 records — use --from-beginning or --offset beginning "
                + "to read them")
        #expect(consumer.emptyEndHint(stored: 0, groupWithoutCommits: nil) == nil)
        #expect(consumer.emptyEndHint(stored: 1, groupWithoutCommits: "audit")?.contains("group \"audit\"") == true)
        consumer.partition = 1
        #expect(
            consumer.emptyEndHint(stored: 1, groupWithoutCommits: nil)?.contains("partition 1 of orders has 1 record ")
                == true)
        consumer.offset = .end
        #expect(consumer.emptyEndHint(stored: 10, groupWithoutCommits: nil) == nil)
        consumer.offset = nil
        consumer.follow = true
        #expect(consumer.emptyEndHint(stored: 10, groupWithoutCommits: nil) == nil)
    }
}
