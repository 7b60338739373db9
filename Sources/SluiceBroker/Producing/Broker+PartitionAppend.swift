import SluiceCore
import SluiceLog

extension Broker {
    /// Throws a usage error naming the topic's partitions when `tp` is not one of them.
    public func checkPartition(_ tp: TopicPartition) throws {
        let count = try partitionCount(tp.topic)
        guard tp.partition < 0 || tp.partition >= count else { return }
        throw BrokerError(
            .invalidPartitions,
            "topic \"\(tp.topic)\" has no partition \(tp.partition); its partitions are "
                + (count == 1 ? "0 only" : "0 to \(count - 1)"))
    }

    /// Appends every record of `block` to the one partition `tp`, whatever their keys, as a Kafka
    /// producer does with a record that names its partition. The records go in batches of the topic's
    /// compression, each no larger than a `Producer` makes them. Returns how many were appended.
    @discardableResult
    public func append(_ block: RecordBlock, to tp: TopicPartition, now: Int64 = Time.nowMillis()) throws -> Int {
        guard !TopicName.isInternal(tp.topic) else {
            throw BrokerError(.invalidTopic, "the internal topic \"\(tp.topic)\" is written by the broker only")
        }
        guard let config = topicConfig(tp.topic) else {
            throw BrokerError(.topicNotFound, "topic \"\(tp.topic)\" does not exist")
        }
        try checkPartition(tp)
        let maxBatchBytes = min(config.logConfig.maxBatchBytes, 16 << 20)
        var builder = RecordBatchBuilder(compression: config.compression)
        for index in 0..<block.count {
            builder.append(from: block, index: index)
            if builder.sizeInBytes >= maxBatchBytes || index == block.count - 1 {
                var batch = try builder.build()
                try append(&batch, to: tp, now: now, verifiedCRC: true)
                builder.reset()
            }
        }
        return block.count
    }
}
