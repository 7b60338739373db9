import SluiceCore

/// How a group spreads partitions over its members, as Kafka's `range` and `roundrobin` assignors do.
public enum AssignmentStrategy: String, Sendable, CaseIterable {
    /// Per topic, consecutive partitions to members in id order; the first members get one more when
    /// the count does not divide evenly.
    case range
    /// All partitions of all subscribed topics, in order, dealt to members in turn.
    case roundRobin = "round-robin"

    /// The target assignment: for each member id, the partitions it should own.
    /// `subscriptions` maps member ids to their topics; `partitionCounts` gives each topic's size.
    public func assign(subscriptions: [String: [String]], partitionCounts: [String: Int32]) -> [String: Set<
        TopicPartition
    >] {
        var result: [String: Set<TopicPartition>] = [:]
        for member in subscriptions.keys { result[member] = [] }
        let topics = Set(subscriptions.values.flatMap { $0 }).sorted()
        switch self {
        case .range:
            for topic in topics {
                let members = subscriptions.filter { $0.value.contains(topic) }.keys.sorted()
                guard !members.isEmpty else { continue }
                let count = Int(partitionCounts[topic] ?? 0)
                let share = count / members.count
                let extra = count % members.count
                var next = 0
                for (i, member) in members.enumerated() {
                    let take = share + (i < extra ? 1 : 0)
                    for partition in next..<(next + take) {
                        result[member]?.insert(TopicPartition(topic, Int32(partition)))
                    }
                    next += take
                }
            }
        case .roundRobin:
            let members = subscriptions.keys.sorted()
            var turn = 0
            for topic in topics {
                for partition in 0..<(partitionCounts[topic] ?? 0) {
                    for _ in 0..<members.count {
                        let member = members[turn % members.count]
                        turn += 1
                        if subscriptions[member]?.contains(topic) == true {
                            result[member]?.insert(TopicPartition(topic, partition))
                            break
                        }
                    }
                }
            }
        }
        return result
    }
}
