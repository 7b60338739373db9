import SluiceBroker
import SluiceCore

/// `sluice groups reset-offsets`: where to move a group's committed offsets, named as
/// `kafka-consumer-groups` names them. New offsets are clamped to what the partition stores.
public enum OffsetResetSpec: Sendable, Equatable {
    case toEarliest
    case toLatest
    /// The committed offset, the end without one (as Kafka's `--to-current`).
    case toCurrent
    case toOffset(Int64)
    case shiftBy(Int64)
    /// The first offset whose record timestamp is at or after this time (epoch milliseconds).
    case toDatetime(Int64)
    /// The first offset whose record timestamp is at most this many milliseconds before the plan is made.
    case byDuration(Int64)
}

/// What a reset covers in one topic: all its partitions, or those listed.
public struct OffsetResetTarget: Sendable, Equatable {
    public var topic: String
    public var partitions: [Int32]?

    public init(topic: String, partitions: [Int32]? = nil) {
        self.topic = topic
        self.partitions = partitions
    }
}

public struct OffsetResetPlan: Sendable {
    public struct Row: Sendable, Equatable {
        public var topicPartition: TopicPartition
        public var current: Int64?
        public var new: Int64
    }

    public var group: String
    public var rows: [Row]

    /// Plans the reset of `group` on `targets`; `now` is the time `byDuration` counts back from.
    public static func make(
        broker: any PipelineBroker,
        group: String,
        targets: [OffsetResetTarget],
        spec: OffsetResetSpec,
        now: Int64 = Time.nowMillis()
    ) throws -> OffsetResetPlan {
        let committed = broker.committedOffsets(group)
        var seen = Set<TopicPartition>()
        var rows: [Row] = []
        for target in targets {
            let count = try broker.partitionCount(target.topic)
            for partition in target.partitions ?? Array(0..<count) {
                guard partition >= 0 && partition < count else {
                    throw BrokerError(
                        .invalidPartitions,
                        "topic \"\(target.topic)\" has partitions 0 to \(count - 1), not \(partition)")
                }
                let tp = TopicPartition(target.topic, partition)
                // A partition named twice (orders:0,0) is planned once.
                guard seen.insert(tp).inserted else { continue }
                let (start, end) = try broker.offsets(tp)
                let current = committed[tp]
                var new: Int64
                switch spec {
                case .toEarliest: new = start
                case .toLatest: new = end
                case .toCurrent: new = current ?? end
                case .toOffset(let offset): new = offset
                case .shiftBy(let delta):
                    let (sum, overflow) = (current ?? end).addingReportingOverflow(delta)
                    new = overflow ? (delta < 0 ? Int64.min : Int64.max) : sum
                case .toDatetime(let millis): new = try broker.offset(forTimestamp: millis, in: tp)
                case .byDuration(let millis):
                    let (since, overflow) = now.subtractingReportingOverflow(millis)
                    new = try broker.offset(forTimestamp: overflow ? Int64.min : since, in: tp)
                }
                new = min(max(new, start), end)
                rows.append(Row(topicPartition: tp, current: current, new: new))
            }
        }
        return OffsetResetPlan(group: group, rows: rows)
    }

    /// Commits the planned offsets.
    public func execute(broker: any PipelineBroker) throws {
        try broker.setCommittedOffsets(
            group, Dictionary(rows.map { ($0.topicPartition, $0.new) }, uniquingKeysWith: { _, last in last }))
    }
}
