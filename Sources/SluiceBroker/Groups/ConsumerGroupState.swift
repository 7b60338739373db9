import SluiceCore

/// The coordinator of one consumer group as a pure state machine: events come in as `mutating`
/// calls with the current time, answers go out as values, and nothing here touches a clock, a file or
/// a thread. `GroupCoordinator` drives it.
///
/// Rebalancing is cooperative, as in Kafka's incremental protocol: every change of membership (join,
/// leave, eviction after a missed session timeout) or of a subscribed topic's partition count starts
/// a new generation and computes a new target assignment. A partition moves to its new member only
/// after its old owner has released it, so two members never own a partition at once; a member keeps
/// what it owns, and may commit for it, until it releases it. Members learn on their next heartbeat
/// which partitions they gained and which they must give up. A commit is accepted only from a current
/// member, in the current generation, for partitions that member owns.
public struct ConsumerGroupState: Sendable {
    public struct Member: Sendable, Equatable {
        public var id: String
        public var topics: [String]
        /// How long the group waits for a heartbeat (from a poll or the member's background heartbeat).
        public var sessionTimeoutMs: Int64
        /// How long the group waits for a poll, as Kafka's `max.poll.interval.ms`: a member that is alive
        /// but stuck (a write that never ends) gives its partitions up after this.
        public var maxPollIntervalMs: Int64
        public var lastHeartbeat: Int64
        public var lastPoll: Int64
    }

    /// What a member is told on join and heartbeat.
    public struct MemberView: Sendable, Equatable {
        public var generation: Int32
        /// Everything the member owns now.
        public var owned: Set<TopicPartition>
        /// Owned partitions it did not own at its previous heartbeat.
        public var gained: Set<TopicPartition>
        /// Owned partitions it must finish with and release.
        public var revoke: Set<TopicPartition>
    }

    /// The verdict on a commit.
    public enum CommitCheck: Sendable, Equatable {
        case accepted
        /// The member left or was evicted; it must join again.
        case unknownMember
        /// The commit carries an older generation; the member must heartbeat to learn the new one.
        case staleGeneration(current: Int32)
        /// The member does not own this partition.
        case notOwner(TopicPartition)
    }

    public let group: String
    public let strategy: AssignmentStrategy
    public private(set) var generation: Int32 = 0
    public private(set) var members: [String: Member] = [:]
    public private(set) var partitionCounts: [String: Int32] = [:]
    /// The assignment the group is moving towards.
    public private(set) var target: [String: Set<TopicPartition>] = [:]
    /// Who owns each partition now (has it and has not released it).
    public private(set) var owners: [TopicPartition: String] = [:]
    /// What each member owned when it was last told.
    private var told: [String: Set<TopicPartition>] = [:]

    public init(group: String, strategy: AssignmentStrategy) {
        self.group = group
        self.strategy = strategy
    }

    public var isEmpty: Bool { members.isEmpty }

    /// Whether `id` is still a member and owns every partition of `partitions` (whatever the generation:
    /// a member keeps what it owns until it releases it). What a member that has been busy checks before
    /// making its work durable: one that was evicted in the meantime must not.
    public func owns(member id: String, _ partitions: some Sequence<TopicPartition>) -> Bool {
        guard members[id] != nil else { return false }
        return partitions.allSatisfy { owners[$0] == id }
    }

    /// A member joins (or rejoins with new topics). `partitionCounts` gives the size of its topics.
    public mutating func join(
        member id: String,
        topics: [String],
        sessionTimeoutMs: Int64,
        maxPollIntervalMs: Int64 = 300_000,
        partitionCounts counts: [String: Int32],
        now: Int64
    ) -> MemberView {
        updatePartitionCounts(counts)
        for (topic, count) in counts where partitionCounts[topic] == nil { partitionCounts[topic] = count }
        let member = Member(
            id: id, topics: topics.sorted(), sessionTimeoutMs: sessionTimeoutMs, maxPollIntervalMs: maxPollIntervalMs,
            lastHeartbeat: now, lastPoll: now)
        let known = members[id]
        members[id] = member
        if known?.topics != member.topics || known?.sessionTimeoutMs != member.sessionTimeoutMs
            || known?.maxPollIntervalMs != member.maxPollIntervalMs
        {
            rebalance()
        }
        return view(for: id)
    }

    /// A member polls: it is alive and making progress, and asks what it owns. Nil when the group does
    /// not know it.
    public mutating func heartbeat(member id: String, now: Int64) -> MemberView? {
        guard members[id] != nil else { return nil }
        members[id]?.lastHeartbeat = now
        members[id]?.lastPoll = now
        return view(for: id)
    }

    /// A member's background heartbeat: it is alive, though perhaps busy with a long write. Keeps its
    /// session, not its poll interval. False when the group does not know it.
    public mutating func keepAlive(member id: String, now: Int64) -> Bool {
        guard members[id] != nil else { return false }
        members[id]?.lastHeartbeat = now
        return true
    }

    /// A member gives up partitions it was asked to revoke (or any it owns).
    public mutating func release(member id: String, partitions: Set<TopicPartition>) {
        for tp in partitions where owners[tp] == id { owners[tp] = nil }
        told[id]?.subtract(partitions)
    }

    /// A member leaves; what it owned is free at once.
    public mutating func leave(member id: String) {
        guard members.removeValue(forKey: id) != nil else { return }
        dropOwnership(of: id)
        rebalance()
    }

    /// Evicts members whose session timed out or who stopped polling. Returns their ids.
    public mutating func expireMembers(now: Int64) -> [String] {
        let expired = members.values.filter {
            now - $0.lastHeartbeat > $0.sessionTimeoutMs || now - $0.lastPoll > $0.maxPollIntervalMs
        }.map(\.id).sorted()
        guard !expired.isEmpty else { return [] }
        for id in expired {
            members[id] = nil
            dropOwnership(of: id)
        }
        rebalance()
        return expired
    }

    /// Topics changed size; a change to a subscribed topic starts a new generation.
    public mutating func updatePartitionCounts(_ counts: [String: Int32]) {
        var changed = false
        for (topic, count) in counts where partitionCounts[topic] != nil && partitionCounts[topic] != count {
            partitionCounts[topic] = count
            changed = true
        }
        if changed { rebalance() }
    }

    /// Whether a commit from `member`, made in `generation`, for `partitions` is accepted.
    public func checkCommit(member id: String, generation: Int32, partitions: some Sequence<TopicPartition>)
        -> CommitCheck
    {
        guard members[id] != nil else { return .unknownMember }
        guard generation == self.generation else { return .staleGeneration(current: self.generation) }
        for tp in partitions where owners[tp] != id { return .notOwner(tp) }
        return .accepted
    }

    private mutating func dropOwnership(of id: String) {
        for (tp, owner) in owners where owner == id { owners[tp] = nil }
        told[id] = nil
        target[id] = nil
    }

    private mutating func rebalance() {
        generation += 1
        target = strategy.assign(subscriptions: members.mapValues(\.topics), partitionCounts: partitionCounts)
    }

    /// Grants the member the free partitions of its target and says what it must give up.
    private mutating func view(for id: String) -> MemberView {
        for tp in target[id] ?? [] where owners[tp] == nil { owners[tp] = id }
        let owned = Set(owners.filter { $0.value == id }.keys)
        let gained = owned.subtracting(told[id] ?? [])
        told[id] = owned
        let revoke = owned.subtracting(target[id] ?? [])
        return MemberView(generation: generation, owned: owned, gained: gained, revoke: revoke)
    }
}
