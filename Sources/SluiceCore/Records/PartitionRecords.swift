/// Records read from one partition, in offset order.
public struct PartitionRecords: Sendable {
    public var topicPartition: TopicPartition
    /// The records, each entry carrying its offset.
    public var records: RecordBlock

    /// Where the reader goes on after these when that is past the last record (the batches it read end
    /// with a control batch, or hold no record at all).
    public var readUpTo: Int64?

    public init(topicPartition: TopicPartition, records: RecordBlock, readUpTo: Int64? = nil) {
        self.topicPartition = topicPartition
        self.records = records
        self.readUpTo = readUpTo
    }

    /// The offset after the last record, or after the batches read: what a consumer commits once these
    /// are done.
    public var nextOffset: Int64? {
        let afterRecords = records.entries.last.map { $0.offset + 1 }
        guard let readUpTo else { return afterRecords }
        return max(afterRecords ?? readUpTo, readUpTo)
    }
}
