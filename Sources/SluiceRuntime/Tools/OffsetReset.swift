import SluiceBroker
import SluiceCore

/// `sluice groups reset-offsets`: where to move a group's committed offsets, named as
/// `kafka-consumer-groups` names them. New offsets are clamped to what the partition stores.
public enum OffsetResetSpec: Sendable, Equatable {
    case toEarliest
    case toLatest
    case toOffset(Int64)
    case shiftBy(Int64)
    /// The first offset whose record timestamp is at or after this time (epoch milliseconds).
    case toDatetime(Int64)
}

public struct OffsetResetPlan: Sendable {
    public struct Row: Sendable, Equatable {
        public var topicPartition: TopicPartition
        public var current: Int64?
        public var new: Int64
    }

    public var group: String
    public var rows: [Row]

    /// Plans the reset of `group` on `topic` (all partitions, or `partitions`).
    public static func make(
        broker: Broker,
        group: String,
        topic: String,
        partitions: [Int32]?,
        spec: OffsetResetSpec
    ) throws -> OffsetResetPlan {
        let count = try broker.partitionCount(topic)
        var seen = Set<Int32>()
        // A partition named twice (orders:0,0) is planned once.
        let chosen = (partitions ?? Array(0..<count)).filter { seen.insert($0).inserted }
        let committed = broker.committedOffsets(group)
        var rows: [Row] = []
        for partition in chosen {
            guard partition >= 0 && partition < count else {
                throw BrokerError(
                    .invalidPartitions, "topic \"\(topic)\" has partitions 0 to \(count - 1), not \(partition)")
            }
            let tp = TopicPartition(topic, partition)
            let (start, end) = try broker.offsets(tp)
            let current = committed[tp]
            var target: Int64
            switch spec {
            case .toEarliest: target = start
            case .toLatest: target = end
            case .toOffset(let offset): target = offset
            case .shiftBy(let delta):
                let (sum, overflow) = (current ?? end).addingReportingOverflow(delta)
                target = overflow ? (delta < 0 ? Int64.min : Int64.max) : sum
            case .toDatetime(let millis): target = try broker.log(tp).offset(forTimestamp: millis)
            }
            target = min(max(target, start), end)
            rows.append(Row(topicPartition: tp, current: current, new: target))
        }
        return OffsetResetPlan(group: group, rows: rows)
    }

    /// Commits the planned offsets.
    public func execute(broker: Broker) throws {
        try broker.setCommittedOffsets(
            group, Dictionary(rows.map { ($0.topicPartition, $0.new) }, uniquingKeysWith: { _, last in last }))
    }
}
