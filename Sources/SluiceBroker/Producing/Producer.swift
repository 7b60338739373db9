import SluiceCore
import SluiceLog

/// Writes blocks of records to one topic: partitions each record, encodes one batch per partition in
/// the topic's compression, and appends them. Used by one thread at a time (the builders it reuses are
/// not shared); the broker underneath is thread-safe.
public final class Producer {
    /// Where the records of one `send` went, per partition.
    public struct PartitionResult: Sendable, Equatable {
        public var partition: Int32
        public var baseOffset: Int64
        public var lastOffset: Int64
        public var records: Int

        public init(partition: Int32, baseOffset: Int64, lastOffset: Int64, records: Int) {
            self.partition = partition
            self.baseOffset = baseOffset
            self.lastOffset = lastOffset
            self.records = records
        }
    }

    public let broker: Broker
    public let topic: String
    /// Written into every batch's producer id (Kafka's idempotent-producer field); -1 for none.
    public let producerId: Int64
    private var partitioner: Partitioner
    private var builders: [RecordBatchBuilder]
    private var compression: BatchCompression
    private var maxBatchBytes: Int

    public init(broker: Broker, topic: String, producerId: Int64 = -1) throws {
        self.broker = broker
        self.topic = topic
        self.producerId = producerId
        guard !TopicName.isInternal(topic) else {
            throw BrokerError(.invalidTopic, "the internal topic \"\(topic)\" is written by the broker only")
        }
        guard let config = broker.topicConfig(topic) else {
            throw BrokerError(.topicNotFound, "topic \"\(topic)\" does not exist")
        }
        partitioner = Partitioner(partitions: config.partitions, start: Int32.random(in: 0..<config.partitions))
        compression = config.compression
        maxBatchBytes = min(config.logConfig.maxBatchBytes, 16 << 20)
        builders = (0..<config.partitions).map { _ in RecordBatchBuilder(compression: config.compression) }
    }

    /// The partition a record of `block` goes to.
    public func partition(of block: RecordBlock, at index: Int) -> Int32 {
        guard let range = block.keyRange(index) else { return partitioner.stickyPartition }
        return block.bytes.withUnsafeBytes {
            partitioner.partition(forKey: UnsafeRawBufferPointer(rebasing: $0[range]))
        }
    }

    /// Sends every record of `block`: one batch per partition (more when a partition's share is larger
    /// than a batch may be), appended in partition order. Keyless records all go to one partition, and
    /// the next call sends them to the next. Returns where the records went.
    @discardableResult
    public func send(_ block: RecordBlock, now: Int64 = Time.nowMillis()) throws -> [PartitionResult] {
        guard !block.isEmpty else { return [] }
        try refreshPartitionCount()
        var results: [Int32: PartitionResult] = [:]
        do {
            try sendAll(block, now: now, into: &results)
        } catch {
            for index in builders.indices { builders[index].reset() }
            throw error
        }
        partitioner.nextBatch()
        return results.values.sorted { $0.partition < $1.partition }
    }

    private func sendAll(_ block: RecordBlock, now: Int64, into results: inout [Int32: PartitionResult]) throws {
        try block.bytes.withUnsafeBytes { arena in
            for index in 0..<block.count {
                let key = block.keyRange(index).map { UnsafeRawBufferPointer(rebasing: arena[$0]) }
                let partition = partitioner.partition(forKey: key)
                builders[Int(partition)].append(from: block, index: index)
                if builders[Int(partition)].sizeInBytes >= maxBatchBytes {
                    try flush(partition, now: now, into: &results)
                }
            }
        }
        for partition in 0..<Int32(builders.count) where !builders[Int(partition)].isEmpty {
            try flush(partition, now: now, into: &results)
        }
    }

    private func flush(_ partition: Int32, now: Int64, into results: inout [Int32: PartitionResult]) throws {
        let records = builders[Int(partition)].count
        builders[Int(partition)].producerId = producerId
        var batch = try builders[Int(partition)].build()
        let appended = try broker.append(&batch, to: TopicPartition(topic, partition), now: now, verifiedCRC: true)
        if var result = results[partition] {
            result.lastOffset = appended.lastOffset
            result.records += records
            results[partition] = result
        } else {
            results[partition] = PartitionResult(
                partition: partition,
                baseOffset: appended.baseOffset,
                lastOffset: appended.lastOffset,
                records: records
            )
        }
    }

    private func refreshPartitionCount() throws {
        let count = try broker.partitionCount(topic)
        guard count != partitioner.partitions else { return }
        partitioner.update(partitions: count)
        while builders.count < Int(count) { builders.append(RecordBatchBuilder(compression: compression)) }
    }
}
