import SluiceBroker
import SluiceCore
import SluiceLog

/// `sluice consume`: prints a topic's records, from every partition or from one.
///
/// Without a group it reads a read-only broker and starts each partition at its beginning, its end,
/// an offset or N records before the end; with a group it joins it, starts at the committed offsets
/// and commits what it printed. Without `follow` it stops at the end of the log.
public struct ConsoleConsumer {
    /// What a run printed, and what to tell the user on standard error.
    public struct Outcome: Sendable {
        public var printed = 0
        /// Offsets moved into a partition's range, and the hint when the start at the end found nothing.
        public var notes: [String] = []
    }

    public var topic: String
    public var fromBeginning = false
    /// Where to start; nil: at the end (the beginning with `fromBeginning`), or a group's commits.
    public var offset: StartOffset?
    /// The one partition to read; nil: all of them.
    public var partition: Int32?
    public var group: String?
    public var maxMessages: Int?
    public var follow = false
    public var format: RecordFormat = .jsonl
    public var timestampStyle: RecordPrinter.TimestampStyle = .ms

    public init(topic: String) {
        self.topic = topic
    }

    /// Prints records to `output` until the end of the log (or forever with `follow`, until a stop is
    /// requested) or `maxMessages`.
    public func run(broker: any PipelineBroker, output: BufferedOutput) throws -> Outcome {
        try checkOptions()
        let partitions = try selectedPartitions(broker)
        var printer = RecordPrinter(format: format, topic: topic, timestampStyle: timestampStyle)
        var outcome = Outcome()
        func emit(_ records: PartitionRecords) throws -> Bool {
            let block = records.records
            for index in 0..<block.count {
                if let maxMessages, outcome.printed >= maxMessages { return false }
                printer.append(block, index: index, partition: records.topicPartition.partition, to: &output.buffer)
                try output.flushIfFull()
                outcome.printed += 1
            }
            return true
        }
        let ranges = try partitions.map { partition in
            let tp = TopicPartition(topic, partition)
            let (start, end) = try broker.offsets(tp)
            return (tp: tp, start: start, end: end)
        }
        var groupWithoutCommits: String?
        if let group {
            if !broker.committedOffsets(group).keys.contains(where: { $0.topic == topic }) {
                groupWithoutCommits = group
            }
            var options = GroupConsumer.Options(group: group, topics: [topic])
            options.autoOffsetReset = fromBeginning || offset == .beginning ? .earliest : .latest
            let consumer = try broker.makeConsumer(options)
            defer { consumer.close() }
            while !StopRequest.isRequested {
                let batch = try consumer.poll(maxRecords: 10_000, maxBytes: 4 << 20, timeoutMillis: follow ? 500 : 200)
                var offsets: [TopicPartition: Int64] = [:]
                var more = true
                for records in batch {
                    let before = outcome.printed
                    more = try emit(records) && more
                    let done = outcome.printed - before
                    if done > 0 { offsets[records.topicPartition] = records.records.entries[done - 1].offset + 1 }
                }
                try output.flush()
                try consumer.commit(offsets)
                if !more { break }
                if try batch.isEmpty && !follow && caughtUp(broker, consumer, partitions) { break }
            }
        } else if !(broker is Broker) {
            // A Kafka cluster: each partition from its start position to its end as it is now.
            guard !follow else {
                throw RuntimeError("--follow on a Kafka cluster needs --group (a member of a consumer group)")
            }
            let (positions, notes) = startPositions(ranges)
            outcome.notes += notes
            outer: for (i, range) in ranges.enumerated() {
                var more = true
                try broker.forEachBlock(range.tp, from: positions[i]) { block in
                    more = try emit(PartitionRecords(topicPartition: range.tp, records: block))
                    return more
                }
                try output.flush()
                if !more { break outer }
            }
        } else if let broker = broker as? Broker {
            var (positions, notes) = startPositions(ranges)
            outcome.notes += notes
            var seen = broker.appended.current
            outer: while !StopRequest.isRequested {
                var progressed = false
                for (i, range) in ranges.enumerated() {
                    let block = try broker.readRecords(range.tp, from: positions[i], maxBytes: 4 << 20)
                    // Batches without records (control batches) are stepped over.
                    guard let end = block.batchesEnd, end > positions[i] else { continue }
                    positions[i] = end
                    progressed = true
                    if block.isEmpty { continue }
                    if !(try emit(PartitionRecords(topicPartition: range.tp, records: block))) { break outer }
                }
                try output.flush()
                if !progressed {
                    guard follow else { break }
                    seen = broker.appended.wait(since: seen, timeoutMillis: 200)
                }
            }
        }
        try output.flush()
        // A group with commits that found nothing new has read everything; the hint is for a start at the end.
        if outcome.printed == 0 && (group == nil || groupWithoutCommits != nil) {
            let stored = ranges.reduce(0) { $0 + ($1.end - $1.start) }
            if let hint = emptyEndHint(stored: stored, groupWithoutCommits: groupWithoutCommits) {
                outcome.notes.append(hint)
            }
        }
        return outcome
    }

    private func caughtUp(_ broker: any PipelineBroker, _ consumer: any GroupReader, _ partitions: [Int32]) throws
        -> Bool
    {
        for partition in partitions {
            let tp = TopicPartition(topic, partition)
            guard let position = consumer.position(tp) else { return false }
            if position < (try broker.offsets(tp).end) { return false }
        }
        return true
    }
}
