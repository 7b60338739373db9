import SluiceBroker
import SluiceCore
import SluiceLog
import SluiceTestSupport
import Testing

/// Small helpers the SluiceBroker suites share: topic configs, record blocks, producing, reading a
/// partition back and polling a consumer until it has what a test expects.
enum BrokerTestSupport {
    /// A topic config with `partitions` and `settings` given as command-line text.
    static func config(partitions: Int32, _ settings: [String: String] = [:]) throws -> TopicConfig {
        var config = TopicConfig(partitions: partitions)
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            try config.set(name, TopicSetting.parseCommandLineValue(value))
        }
        return config
    }

    /// `count` records whose keys (when `keyed`) and values name `tag` and their index.
    static func block(
        _ count: Int,
        tag: String = "r",
        keyed: Bool = true,
        timestamp: Int64 = 1_000,
        valueSize: Int = 0
    ) -> RecordBlock {
        var block = RecordBlock()
        for i in 0..<count {
            let padding = String(repeating: "x", count: valueSize)
            block.append(
                Record(
                    key: keyed ? "\(tag)-\(i)" : nil, value: "\(tag)-v\(i)\(padding)", timestamp: timestamp + Int64(i))
            )
        }
        return block
    }

    /// Sends `count` records to `topic` in one block.
    @discardableResult
    static func produce(
        _ broker: Broker,
        _ topic: String,
        count: Int,
        tag: String = "r",
        keyed: Bool = true,
        valueSize: Int = 0
    ) throws -> [Producer.PartitionResult] {
        let producer = try Producer(broker: broker, topic: topic)
        return try producer.send(block(count, tag: tag, keyed: keyed, valueSize: valueSize))
    }

    /// Every record of one partition from `offset` (the log start when nil) to its end.
    static func readAll(_ broker: Broker, _ tp: TopicPartition, from offset: Int64? = nil) throws -> [Record] {
        try broker.log(tp).records(from: offset)
    }

    /// The value of `record` as text.
    static func text(_ record: Record) -> String {
        String(decoding: record.value ?? [], as: UTF8.self)
    }

    /// One record a consumer polled, with where it came from.
    struct Polled: Hashable {
        var tp: TopicPartition
        var offset: Int64
        var value: String
    }

    /// The records of a poll, flattened.
    static func flatten(_ batches: [PartitionRecords]) -> [Polled] {
        batches.flatMap { batch in
            batch.records.records.map { Polled(tp: batch.topicPartition, offset: $0.offset, value: text($0)) }
        }
    }

    /// The next offset per partition after `batches`: what a consumer commits once they are done.
    static func nextOffsets(_ batches: [PartitionRecords]) -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for batch in batches {
            if let next = batch.nextOffset { result[batch.topicPartition] = next }
        }
        return result
    }

    /// Polls `consumer` until it has returned `count` records or `maxEmptyPolls` polls came back empty,
    /// committing after each poll when `commit` is set.
    static func poll(
        _ consumer: GroupConsumer,
        count: Int,
        commit: Bool = true,
        maxEmptyPolls: Int = 20
    ) throws -> [Polled] {
        var result: [Polled] = []
        var empty = 0
        while result.count < count && empty < maxEmptyPolls {
            let batches = try consumer.poll(maxRecords: 1_000, maxBytes: 1 << 20, timeoutMillis: 50)
            if batches.isEmpty { empty += 1 }
            result += flatten(batches)
            if commit { try consumer.commit(nextOffsets(batches)) }
        }
        return result
    }
}
