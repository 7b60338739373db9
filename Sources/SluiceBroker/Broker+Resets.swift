import SluiceCore

extension Broker {
    /// When `sluice groups reset-offsets` last set each of `group`'s committed offsets (epoch
    /// milliseconds), for partitions it ever did.
    public func committedResets(_ group: String) -> [TopicPartition: Int64] {
        offsetStore.offsets(group: group).compactMapValues(\.resetAt)
    }
}
