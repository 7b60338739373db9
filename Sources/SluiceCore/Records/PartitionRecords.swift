/// Records read from one partition, in offset order.
public struct PartitionRecords: Sendable {
    public var topicPartition: TopicPartition
    /// The records, each entry carrying its offset.
    public var records: RecordBlock

    public init(topicPartition: TopicPartition, records: RecordBlock) {
        self.topicPartition = topicPartition
        self.records = records
    }

    /// The offset after the last record: what a consumer commits once these are done.
    public var nextOffset: Int64? {
        records.entries.last.map { $0.offset + 1 }
    }
}
