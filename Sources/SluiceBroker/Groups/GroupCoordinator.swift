import Logging
import SluiceCore

/// Drives one `ConsumerGroupState` per group: takes the lock, supplies the clock, evicts members whose
/// session timed out, stores accepted commits in the offset store, and writes a members file so that
/// `sluice groups describe` in another process can show who owns what. Thread-safe.
final class GroupCoordinator: @unchecked Sendable {
    private let store: OffsetStore
    private let dataDirectory: String
    private let logger: Logger
    private let groups = Locked<[String: ConsumerGroupState]>([:])
    let clock: @Sendable () -> Int64

    init(
        store: OffsetStore, dataDirectory: String, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = { Int64(Time.monotonicNanos() / 1_000_000) }
    ) {
        self.store = store
        self.dataDirectory = dataDirectory
        self.logger = logger
        self.clock = clock
    }

    func join(
        group: String,
        member: String,
        topics: [String],
        strategy: AssignmentStrategy,
        sessionTimeoutMs: Int64,
        maxPollIntervalMs: Int64 = 300_000,
        partitionCounts: [String: Int32]
    ) -> ConsumerGroupState.MemberView {
        let now = clock()
        let view = groups.withLock { groups in
            var state = groups[group] ?? ConsumerGroupState(group: group, strategy: strategy)
            expire(&state, now: now)
            let view = state.join(
                member: member, topics: topics, sessionTimeoutMs: sessionTimeoutMs,
                maxPollIntervalMs: maxPollIntervalMs, partitionCounts: partitionCounts, now: now)
            groups[group] = state
            return view
        }
        logger.debug(
            "member joined", metadata: ["group": "\(group)", "member": "\(member)", "generation": "\(view.generation)"])
        writeMembers(group)
        return view
    }

    /// Nil when the member is unknown (left or evicted) and must join again.
    func heartbeat(group: String, member: String) -> ConsumerGroupState.MemberView? {
        let now = clock()
        let (view, changed) = groups.withLock { groups -> (ConsumerGroupState.MemberView?, Bool) in
            guard var state = groups[group] else { return (nil, false) }
            let before = (state.generation, state.owners)
            expire(&state, now: now)
            let view = state.heartbeat(member: member, now: now)
            groups[group] = state
            return (view, state.generation != before.0 || state.owners != before.1)
        }
        // A heartbeat hands over released partitions, and may evict members: the file must follow.
        if changed { writeMembers(group) }
        return view
    }

    /// A member's background heartbeat (see `ConsumerGroupState.keepAlive`); false when the group no
    /// longer knows the member. Also evicts members that timed out.
    func keepAlive(group: String, member: String) -> Bool {
        let now = clock()
        let (known, changed) = groups.withLock { groups -> (Bool, Bool) in
            guard var state = groups[group] else { return (false, false) }
            let before = state.generation
            expire(&state, now: now)
            let known = state.keepAlive(member: member, now: now)
            groups[group] = state
            return (known, state.generation != before)
        }
        if changed { writeMembers(group) }
        return known
    }

    /// Whether the member is still in the group and owns `partitions` (see `ConsumerGroupState.owns`).
    /// Evicts members that timed out first.
    func owns(group: String, member: String, partitions: Set<TopicPartition>) -> Bool {
        let now = clock()
        let (owns, changed) = groups.withLock { groups -> (Bool, Bool) in
            guard var state = groups[group] else { return (false, false) }
            let before = state.generation
            expire(&state, now: now)
            groups[group] = state
            return (state.owns(member: member, partitions), state.generation != before)
        }
        if changed { writeMembers(group) }
        return owns
    }

    func release(group: String, member: String, partitions: Set<TopicPartition>) {
        groups.withLock { groups in groups[group]?.release(member: member, partitions: partitions) }
        writeMembers(group)
    }

    func leave(group: String, member: String) {
        groups.withLock { groups in
            groups[group]?.leave(member: member)
            if groups[group]?.isEmpty == true { groups[group] = nil }
        }
        writeMembers(group)
    }

    /// Checks the commit against the group's state and stores it; the lock is held across both so that
    /// no rebalance slips in between.
    func commit(group: String, member: String, generation: Int32, offsets: [TopicPartition: Int64]) throws {
        let now = clock()
        try groups.withLock { groups in
            guard var state = groups[group] else {
                throw BrokerError(.unknownMember, "member \(member) is not in group \"\(group)\"; it must join again")
            }
            expire(&state, now: now)
            groups[group] = state
            switch state.checkCommit(member: member, generation: generation, partitions: offsets.keys) {
            case .accepted:
                try store.commit(group: group, offsets: offsets.mapValues { $0 }, now: Time.nowMillis())
            case .unknownMember:
                throw BrokerError(
                    .unknownMember, "member \(member) is no longer in group \"\(group)\"; it must join again")
            case .staleGeneration(let current):
                throw BrokerError(
                    .staleGeneration,
                    "commit of generation \(generation) refused: group \"\(group)\" is at generation \(current)")
            case .notOwner(let tp):
                throw BrokerError(.notOwner, "member \(member) of group \"\(group)\" does not own \(tp)")
            }
        }
    }

    func topicsChanged(partitionCounts: [String: Int32]) {
        groups.withLock { groups in
            for name in groups.keys { groups[name]?.updatePartitionCounts(partitionCounts) }
        }
    }

    /// The live state of a group in this process, when it has members.
    /// The groups with members in this process.
    func groupNames() -> Set<String> {
        groups.withLock { Set($0.filter { !$0.value.members.isEmpty }.keys) }
    }

    func state(of group: String) -> ConsumerGroupState? {
        groups.withLock { $0[group] }
    }

    func activeGroups() -> [String] {
        groups.withLock { $0.keys.sorted() }
    }

    func shutdown() {
        let names = groups.withLock { groups in
            defer { groups.removeAll() }
            return Array(groups.keys)
        }
        for name in names { try? FileSystem.removeFile(membersPath(name)) }
    }

    private func expire(_ state: inout ConsumerGroupState, now: Int64) {
        let evicted = state.expireMembers(now: now)
        for member in evicted {
            logger.warning(
                "evicted a consumer that missed its session timeout",
                metadata: ["group": "\(state.group)", "member": "\(member)", "generation": "\(state.generation)"]
            )
        }
    }

    // MARK: Members file

    func membersPath(_ group: String) -> String {
        dataDirectory + "/__groups/" + Self.fileSafe(group) + ".members.json"
    }

    static func fileSafe(_ name: String) -> String {
        String(
            name.unicodeScalars.map {
                $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" ? Character($0) : "_"
            })
    }

    /// Writes who owns what, for `groups describe` in other processes. Informational, never fsynced.
    private func writeMembers(_ group: String) {
        let snapshot = groups.withLock { $0[group] }
        let path = membersPath(group)
        guard let snapshot else {
            try? FileSystem.removeFile(path)
            return
        }
        Self.writeMembersFile(
            path, group: group, generation: snapshot.generation, strategy: snapshot.strategy.rawValue,
            members: snapshot.members.keys.sorted(), owners: snapshot.owners, dataDirectory: dataDirectory)
    }

    /// Writes a members file: the group's generation, members and owners, as `membersFiles` reads it.
    static func writeMembersFile(
        _ path: String, group: String, generation: Int32, strategy: String, members: [String],
        owners: [TopicPartition: String], dataDirectory: String
    ) {
        let owners = owners.sorted { $0.key < $1.key }.map { tp, member in
            JSONValue.object([
                ("topic", .string(tp.topic)), ("partition", .number(String(tp.partition))), ("member", .string(member)),
            ])
        }
        let json = JSONValue.object([
            ("group", .string(group)), ("generation", .number(String(generation))),
            ("strategy", .string(strategy)),
            ("members", .array(members.map { .string($0) })), ("owners", .array(owners)),
        ])
        try? FileSystem.createDirectory(dataDirectory + "/__groups")
        try? FileSystem.writeAtomically(path, Array(json.prettyPrinted().utf8), sync: false)
    }
}
