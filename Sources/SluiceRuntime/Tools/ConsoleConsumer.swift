import SluiceBroker
import SluiceCore
import SluiceLog

/// `sluice consume`: prints a topic's records, one per line, from every partition.
///
/// Without a group it reads a read-only broker and starts each partition at its beginning or end;
/// with a group it joins it, starts at the committed offsets and commits what it printed. Without
/// `follow` it stops at the end of the log.
public struct ConsoleConsumer {
    public enum Format: String, CaseIterable, Sendable {
        /// One JSON object per record with topic, partition, offset, timestamp, key, value, headers.
        case jsonl
        /// The raw value bytes, one per line.
        case value
    }

    public var topic: String
    public var fromBeginning = false
    public var group: String?
    public var maxMessages: Int?
    public var follow = false
    public var format: Format = .jsonl

    public init(topic: String) {
        self.topic = topic
    }

    /// Prints records to `output` until the end of the log (or forever with `follow`, until a stop is
    /// requested) or `maxMessages`. Returns how many it printed.
    public func run(broker: Broker, output: BufferedOutput) throws -> Int {
        let partitions = try broker.partitionCount(topic)
        var printed = 0
        func emit(_ records: PartitionRecords) throws -> Bool {
            let block = records.records
            for index in 0..<block.count {
                if let maxMessages, printed >= maxMessages { return false }
                switch format {
                case .jsonl:
                    RecordJSON.appendEnvelope(
                        topic: topic, partition: records.topicPartition.partition, block: block, index: index,
                        to: &output.buffer)
                case .value:
                    if let value = block.value(index) { output.buffer.append(contentsOf: value) }
                }
                output.buffer.append(UInt8(ascii: "\n"))
                try output.flushIfFull()
                printed += 1
            }
            return true
        }
        if let group {
            var options = GroupConsumer.Options(group: group, topics: [topic])
            options.autoOffsetReset = fromBeginning ? .earliest : .latest
            let consumer = try GroupConsumer(broker: broker, options: options)
            defer { consumer.close() }
            while !StopRequest.isRequested {
                let batch = try consumer.poll(maxRecords: 10_000, maxBytes: 4 << 20, timeoutMillis: follow ? 500 : 200)
                var offsets: [TopicPartition: Int64] = [:]
                var more = true
                for records in batch {
                    let before = printed
                    more = try emit(records) && more
                    let done = printed - before
                    if done > 0 { offsets[records.topicPartition] = records.records.entries[done - 1].offset + 1 }
                }
                try output.flush()
                try consumer.commit(offsets)
                if !more { break }
                if try batch.isEmpty && !follow && caughtUp(broker, consumer, partitions) { break }
            }
        } else {
            var positions: [Int64] = try (0..<partitions).map { partition in
                let range = try broker.offsets(TopicPartition(topic, partition))
                return fromBeginning ? range.start : range.end
            }
            var seen = broker.appended.current
            outer: while !StopRequest.isRequested {
                var progressed = false
                for partition in 0..<partitions {
                    let tp = TopicPartition(topic, partition)
                    let block = try broker.readRecords(tp, from: positions[Int(partition)], maxBytes: 4 << 20)
                    // Batches without records (control batches) are stepped over.
                    guard let end = block.batchesEnd, end > positions[Int(partition)] else { continue }
                    positions[Int(partition)] = end
                    progressed = true
                    if block.isEmpty { continue }
                    if !(try emit(PartitionRecords(topicPartition: tp, records: block))) { break outer }
                }
                try output.flush()
                if !progressed {
                    guard follow else { break }
                    seen = broker.appended.wait(since: seen, timeoutMillis: 200)
                }
            }
        }
        try output.flush()
        return printed
    }

    private func caughtUp(_ broker: Broker, _ consumer: GroupConsumer, _ partitions: Int32) throws -> Bool {
        for partition in 0..<partitions {
            let tp = TopicPartition(topic, partition)
            guard let position = consumer.position(tp) else { return false }
            if position < (try broker.offsets(tp).end) { return false }
        }
        return true
    }
}
