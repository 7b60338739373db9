import SluiceCore

/// Kafka's default partitioner: a keyed record goes to `toPositive(murmur2(key)) % partitions`, so a
/// key lands on the same partition here and in Kafka; records without a key stick to one partition for
/// a whole batch and the next batch moves on, round robin.
public struct Partitioner: Sendable {
    public private(set) var partitions: Int32
    private var sticky: Int32

    /// `start` picks the first partition for keyless records.
    public init(partitions: Int32, start: Int32 = 0) {
        precondition(partitions > 0)
        self.partitions = partitions
        sticky = start % partitions
    }

    /// The partition of a record whose key is `key`, or of a keyless record when `key` is nil.
    @inlinable
    public func partition(forKey key: UnsafeRawBufferPointer?) -> Int32 {
        guard let key else { return stickyPartition }
        return Murmur2.toPositive(Murmur2.hash(key)) % partitions
    }

    /// The partition keyless records of the current batch go to.
    public var stickyPartition: Int32 { sticky }

    /// Moves keyless records to the next partition, at the end of a batch.
    public mutating func nextBatch() {
        sticky = (sticky + 1) % partitions
    }

    /// Follows a change of the topic's partition count.
    public mutating func update(partitions: Int32) {
        self.partitions = partitions
        sticky %= partitions
    }
}
