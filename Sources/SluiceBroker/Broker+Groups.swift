import SluiceCore

extension Broker {
    /// One partition of a group, as `groups describe` shows it.
    public struct GroupPartition: Sendable, Equatable {
        public var topicPartition: TopicPartition
        /// The next offset the group will read, when it has committed one.
        public var committed: Int64?
        /// The partition's first stored offset.
        public var startOffset: Int64
        public var endOffset: Int64
        /// The records the group has still to read: from its committed offset, or from the log start
        /// without a commit (a group that has committed nothing reads the partition from its start, or
        /// has not read it yet). Never nil; optional for the callers written when it was.
        public var lag: Int64? { max(0, endOffset - (committed ?? startOffset)) }
        /// The member that owns the partition now, when the group is running.
        public var member: String?

        public init(
            topicPartition: TopicPartition, committed: Int64?, startOffset: Int64, endOffset: Int64, member: String?
        ) {
            self.topicPartition = topicPartition
            self.committed = committed
            self.startOffset = startOffset
            self.endOffset = endOffset
            self.member = member
        }
    }

    /// A group as `groups describe` shows it.
    public struct GroupDescription: Sendable {
        public var group: String
        /// `Stable` with members, `Empty` without.
        public var state: String
        public var generation: Int32?
        public var members: [String]
        public var partitions: [GroupPartition]
        public var totalLag: Int64 { partitions.reduce(0) { $0 + ($1.lag ?? 0) } }
    }

    /// Groups with committed offsets or live members, in order.
    public func groupNames() -> [String] {
        Set(
            offsetStore.groups() + coordinator.activeGroups() + membersFiles().keys
                + externalGroups.withLock { Array($0.keys) }
        ).sorted()
    }

    /// The committed offsets of `group`: the next offset it will read, per partition.
    public func committedOffsets(_ group: String) -> [TopicPartition: Int64] {
        offsetStore.offsets(group: group).mapValues(\.offset)
    }

    /// The highest offset `group` ever committed, per partition: a reset of its offsets does not lower
    /// it, deleting the topic (or its offsets) forgets it. A sink tells by it which of its output was
    /// committed before a reset (kept until it is written again) from what an attempt left that was
    /// never committed.
    public func committedHighWater(_ group: String) -> [TopicPartition: Int64] {
        offsetStore.offsets(group: group).compactMapValues(\.highWater)
    }

    /// Committed offsets, end offsets, lag and owners of every partition of each topic the group has
    /// committed on or owns a partition of now: a partition without a commit counts from its log start.
    /// Owners come from this process's coordinator, or from the members file of the process that owns
    /// the data directory.
    /// `topics`: topics the group reads besides those it committed on or owns (a group that has not
    /// committed yet, named by a config).
    public func describeGroup(_ group: String, topics extra: [String] = []) throws -> GroupDescription {
        var owners: [TopicPartition: String] = [:]
        var members: [String] = []
        var generation: Int32?
        if let state = coordinator.state(of: group) {
            owners = state.owners
            members = state.members.keys.sorted()
            generation = state.generation
        } else if let external = externalGroups.withLock({ $0[group] }) {
            owners = external.owners
            members = external.members
            generation = external.generation
        } else if let file = membersFiles()[group] {
            owners = file.owners
            members = file.members
            generation = file.generation
        }
        let topics = Set(committedOffsets(group).keys.map(\.topic)).union(owners.keys.map(\.topic)).union(extra)
        return GroupDescription(
            group: group,
            state: members.isEmpty ? "Empty" : "Stable",
            generation: generation,
            members: members,
            partitions: try lag(group: group, topics: topics.sorted().filter { topicConfig($0) != nil }, owners: owners)
        )
    }

    /// Lag per partition of `group` on `topics` (all partitions, committed or not).
    public func lag(group: String, topics: [String]) throws -> [GroupPartition] {
        try lag(group: group, topics: topics, owners: [:])
    }

    private func lag(group: String, topics: [String], owners: [TopicPartition: String]) throws -> [GroupPartition] {
        let committed = committedOffsets(group)
        var result: [GroupPartition] = []
        for topic in topics {
            for partition in 0..<(try partitionCount(topic)) {
                let tp = TopicPartition(topic, partition)
                let (start, end) = try offsets(tp)
                result.append(
                    GroupPartition(
                        topicPartition: tp, committed: committed[tp], startOffset: start, endOffset: end,
                        member: owners[tp]))
            }
        }
        return result
    }

    /// The most bytes that one of `groups` has not consumed in one partition of `topic` (from its committed
    /// offset, or from the start without one).
    public func unconsumedBytes(topic: String, groups: [String]) throws -> Int64 {
        var most: Int64 = 0
        for partition in 0..<(try partitionCount(topic)) {
            let tp = TopicPartition(topic, partition)
            let log = try log(tp)
            for group in groups {
                let from = committedOffsets(group)[tp] ?? log.startOffset
                most = max(most, try log.sizeInBytes(from: max(from, log.startOffset)))
            }
        }
        return most
    }

    /// Stores offsets for a group that has no live members (for `groups reset-offsets`); a running group
    /// commits through its consumers.
    public func setCommittedOffsets(_ group: String, _ offsets: [TopicPartition: Int64]) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        guard coordinator.state(of: group) == nil,
            externalGroups.withLock({ $0[group]?.members.isEmpty ?? true })
        else {
            throw BrokerError(.invalidConfig, "group \"\(group)\" has live members; stop them before resetting offsets")
        }
        try offsetStore.commit(group: group, offsets: offsets.mapValues { $0 }, reset: true)
    }

    /// Forgets a group that has no live members: its committed offsets and their high waters, as
    /// `kafka-consumer-groups --delete` does. A group with members in this process is refused; one
    /// running in another process cannot be, since that process holds the data directory.
    public func deleteGroup(_ group: String) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        guard coordinator.state(of: group) == nil else {
            throw BrokerError(.invalidConfig, "group \"\(group)\" has live members; stop them before deleting it")
        }
        let offsets = offsetStore.offsets(group: group)
        guard !offsets.isEmpty else {
            throw BrokerError(
                .groupNotFound, "consumer group \"\(group)\" does not exist (it has no committed offsets)")
        }
        try offsetStore.commit(group: group, offsets: offsets.mapValues { _ -> Int64? in nil })
    }

    struct MembersFile {
        var generation: Int32
        var members: [String]
        var owners: [TopicPartition: String]
    }

    /// Groups with members now: in this process, or in the one that holds the data directory.
    public func groupsWithMembers() -> Set<String> {
        Set(membersFiles().filter { !$0.value.members.isEmpty }.keys).union(coordinator.groupNames())
            .union(externalGroups.withLock { $0.filter { !$0.value.members.isEmpty }.keys })
    }

    // MARK: Groups of Kafka clients

    /// Whether Sluice's own sinks use `group` in this process (a Kafka client may not join it).
    public func isSinkGroup(_ group: String) -> Bool {
        coordinator.state(of: group) != nil
    }

    /// Publishes who is in a group of Kafka clients (coordinated by the daemon's Kafka listener) and
    /// what each owns, for `groups describe` here and in other processes; nil members forget it.
    public func publishExternalGroup(
        _ group: String, generation: Int32, members: [String]?, owners: [TopicPartition: String]
    ) {
        let path = coordinator.membersPath(group)
        guard let members else {
            externalGroups.withLock { $0[group] = nil }
            try? FileSystem.removeFile(path)
            return
        }
        externalGroups.withLock {
            $0[group] = MembersFile(generation: generation, members: members, owners: owners)
        }
        GroupCoordinator.writeMembersFile(
            path, group: group, generation: generation, strategy: "kafka-client", members: members, owners: owners,
            dataDirectory: dataDirectory)
    }

    /// Commits offsets of a group of Kafka clients, durably, before returning.
    public func commitExternal(_ group: String, _ offsets: [TopicPartition: Int64]) throws {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        guard coordinator.state(of: group) == nil else {
            throw BrokerError(.invalidConfig, "group \"\(group)\" belongs to a Sluice sink")
        }
        try offsetStore.commit(group: group, offsets: offsets.mapValues { $0 })
    }

    /// The members files written by the process that owns the data directory, when one does.
    func membersFiles() -> [String: MembersFile] {
        guard isReadOnly, DirectoryLock.owner(ofDirectory: dataDirectory) != nil else { return [:] }
        let folder = dataDirectory + "/__groups"
        guard let names = try? FileSystem.contentsOfDirectory(folder) else { return [:] }
        var result: [String: MembersFile] = [:]
        for name in names where name.hasSuffix(".members.json") {
            guard let json = try? JSONValue.parse(FileSystem.readFile(folder + "/" + name)),
                let group = json["group"]?.stringValue, case .array(let owners)? = json["owners"],
                case .array(let members)? = json["members"]
            else { continue }
            var map: [TopicPartition: String] = [:]
            for owner in owners {
                if let topic = owner["topic"]?.stringValue, let partition = owner["partition"]?.integerValue,
                    let member = owner["member"]?.stringValue
                {
                    map[TopicPartition(topic, Int32(truncatingIfNeeded: partition))] = member
                }
            }
            result[group] = MembersFile(
                generation: Int32(truncatingIfNeeded: json["generation"]?.integerValue ?? 0),
                members: members.compactMap(\.stringValue),
                owners: map
            )
        }
        return result
    }
}
