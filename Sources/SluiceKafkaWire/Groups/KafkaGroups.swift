import Logging
import SluiceBroker
import SluiceCore

/// Groups of Kafka clients, in Kafka's classic protocol: members join (JoinGroup), the leader, a
/// client, assigns and hands the assignment out through SyncGroup, heartbeats keep members, and a
/// member that misses its session timeout or leaves starts a rebalance. Generations fence commits.
///
/// One lock holds every group; answers that wait (a join until the others have joined, a sync until
/// the leader's) are kept as functions and called once their answer is known, from the request that
/// completes them or from the ticker thread that enforces timeouts.
final class KafkaGroups: Sendable {
    enum Phase: String {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
        case dead = "Dead"
    }

    struct JoinAnswer: Sendable {
        var error: KafkaError
        var generation: Int32 = -1
        var protocolName: String = ""
        var leader: String = ""
        var memberID: String = ""
        /// For the leader: every member with its metadata for the chosen protocol.
        var members: [(id: String, instance: String?, metadata: [UInt8])] = []
    }

    struct Member {
        var id: String
        var clientID: String
        var host: String
        var sessionTimeoutMillis: Int
        var rebalanceTimeoutMillis: Int
        var protocols: [(name: String, metadata: [UInt8])]
        var lastSeen: UInt64
        var assignment: [UInt8] = []
        /// Set while the member has joined the round in progress: its answer.
        var pendingJoin: (@Sendable (JoinAnswer) -> Void)?
        var pendingSync: (@Sendable (KafkaError, [UInt8]) -> Void)?
    }

    struct Group {
        var phase = Phase.empty
        var generation: Int32 = 0
        var protocolType: String?
        var protocolName: String?
        var leader: String?
        var members: [String: Member] = [:]
        /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
        var pending: [String: UInt64] = [:]
        var rebalanceDeadline: UInt64 = 0
    }

    private let groups = Locked<[String: Group]>([:])
    private let brokers: any BrokerProvider
    private let logger: Logger
    private let stopping = Locked(false)
    private let ticker = Locked<WorkerThread?>(nil)

    static let minSessionTimeoutMillis = 1_000
    static let maxSessionTimeoutMillis = 1_800_000

    init(brokers: any BrokerProvider, logger: Logger) {
        self.brokers = brokers
        self.logger = logger
    }

    func start() {
        let worker = WorkerThread(name: "kafka-groups") { [self] in
            while !stopping.withLock({ $0 }) {
                Time.sleep(millis: 100)
                tick()
            }
        }
        ticker.withLock { $0 = worker }
    }

    func stop() {
        stopping.withLock { $0 = true }
        _ = ticker.withLock { $0 }?.join()
    }

    // MARK: Join

    func join(
        group name: String, memberID: String, clientID: String, host: String, sessionTimeoutMillis: Int,
        rebalanceTimeoutMillis: Int, protocolType: String, protocols: [(name: String, metadata: [UInt8])],
        requireKnownMemberID: Bool, answer: @escaping @Sendable (JoinAnswer) -> Void
    ) {
        guard !name.isEmpty else { return answer(JoinAnswer(error: .invalidGroupId)) }
        guard (Self.minSessionTimeoutMillis...Self.maxSessionTimeoutMillis).contains(sessionTimeoutMillis) else {
            return answer(JoinAnswer(error: .invalidSessionTimeout))
        }
        if brokers.withBroker({ $0.isSinkGroup(name) }) == true {
            return answer(JoinAnswer(error: .inconsistentGroupProtocol))
        }
        let now = Time.monotonicNanos()
        var completions: [() -> Void] = []
        groups.withLock { groups in
            var group = groups[name] ?? Group()
            defer { groups[name] = group }
            if let type = group.protocolType, !group.members.isEmpty,
                type != protocolType || !Self.hasCommonProtocol(group, protocols)
            {
                completions.append { answer(JoinAnswer(error: .inconsistentGroupProtocol)) }
                return
            }
            var id = memberID
            if id.isEmpty {
                id = (clientID.isEmpty ? "member" : clientID) + "-" + Self.newID()
                if requireKnownMemberID {
                    group.pending[id] = now
                    completions.append { answer(JoinAnswer(error: .memberIdRequired, memberID: id)) }
                    return
                }
            } else if group.members[id] == nil && group.pending[id] == nil {
                completions.append { answer(JoinAnswer(error: .unknownMemberID, memberID: id)) }
                return
            }
            group.pending[id] = nil
            var member =
                group.members[id]
                ?? Member(
                    id: id, clientID: clientID, host: host, sessionTimeoutMillis: sessionTimeoutMillis,
                    rebalanceTimeoutMillis: rebalanceTimeoutMillis, protocols: protocols, lastSeen: now)
            member.protocols = protocols
            member.sessionTimeoutMillis = sessionTimeoutMillis
            member.rebalanceTimeoutMillis = rebalanceTimeoutMillis
            member.lastSeen = now
            if let earlier = member.pendingJoin {
                completions.append { earlier(JoinAnswer(error: .unknownMemberID, memberID: id)) }
            }
            member.pendingJoin = answer
            group.members[id] = member
            group.protocolType = protocolType
            if group.phase != .preparingRebalance {
                startRebalance(&group, name: name, now: now, reason: "member \(id) joined", completions: &completions)
            }
            completeJoinIfReady(&group, name: name, now: now, completions: &completions)
        }
        for completion in completions { completion() }
    }

    private static func hasCommonProtocol(_ group: Group, _ protocols: [(name: String, metadata: [UInt8])]) -> Bool {
        let offered = Set(protocols.map(\.name))
        return group.members.values.allSatisfy { member in member.protocols.contains { offered.contains($0.name) } }
    }

    private static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let hex = bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        return [
            hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4),
            hex.dropFirst(20),
        ].joined(separator: "-")
    }

    private func startRebalance(
        _ group: inout Group, name: String, now: UInt64, reason: String, completions: inout [() -> Void]
    ) {
        // Members waiting for their sync learn that a new round began.
        for id in Array(group.members.keys) {
            if let sync = group.members[id]?.pendingSync {
                completions.append { sync(.rebalanceInProgress, []) }
                group.members[id]?.pendingSync = nil
            }
        }
        group.phase = .preparingRebalance
        let longest = group.members.values.map(\.rebalanceTimeoutMillis).max() ?? 0
        group.rebalanceDeadline = now + UInt64(max(longest, 0)) * 1_000_000
        logger.info("Kafka group rebalancing", metadata: ["group": "\(name)", "reason": "\(reason)"])
    }

    /// Ends the joining phase once every member has joined (or the rebalance timeout passed: those that
    /// did not are dropped): a new generation, the leader told the members.
    private func completeJoinIfReady(
        _ group: inout Group, name: String, now: UInt64, completions: inout [() -> Void]
    ) {
        guard group.phase == .preparingRebalance else { return }
        let waiting = group.members.values.filter { $0.pendingJoin == nil }
        if !waiting.isEmpty {
            guard now >= group.rebalanceDeadline else { return }
            for member in waiting { group.members[member.id] = nil }
        }
        guard !group.members.isEmpty else {
            group.phase = .empty
            group.generation += 1
            group.leader = nil
            publish(name, group)
            return
        }
        group.generation += 1
        let members = group.members.values.sorted { $0.id < $1.id }
        if group.leader == nil || group.members[group.leader ?? ""] == nil { group.leader = members.first?.id }
        let leader = group.leader ?? ""
        // The first protocol of the leader's that every member offers.
        let chosen =
            group.members[leader]?.protocols.first { candidate in
                members.allSatisfy { member in member.protocols.contains { $0.name == candidate.name } }
            }?.name ?? ""
        group.protocolName = chosen
        group.phase = .completingRebalance
        for member in members {
            guard let answer = member.pendingJoin else { continue }
            var reply = JoinAnswer(
                error: .none, generation: group.generation, protocolName: chosen, leader: leader, memberID: member.id)
            if member.id == leader {
                reply.members = members.map { other in
                    (other.id, nil, other.protocols.first { $0.name == chosen }?.metadata ?? [])
                }
            }
            completions.append { answer(reply) }
            group.members[member.id]?.pendingJoin = nil
            group.members[member.id]?.lastSeen = now
        }
        logger.info(
            "Kafka group joined",
            metadata: [
                "group": "\(name)", "generation": "\(group.generation)", "members": "\(members.count)",
                "leader": "\(leader)",
            ])
        publish(name, group)
    }

    // MARK: Sync, heartbeat, leave

    func sync(
        group name: String, generation: Int32, memberID: String, assignments: [String: [UInt8]],
        answer: @escaping @Sendable (KafkaError, [UInt8]) -> Void
    ) {
        var completions: [() -> Void] = []
        groups.withLock { groups in
            guard var group = groups[name], var member = group.members[memberID] else {
                completions.append { answer(.unknownMemberID, []) }
                return
            }
            defer { groups[name] = group }
            guard generation == group.generation else {
                completions.append { answer(.illegalGeneration, []) }
                return
            }
            member.lastSeen = Time.monotonicNanos()
            switch group.phase {
            case .preparingRebalance, .empty, .dead:
                group.members[memberID] = member
                completions.append { answer(.rebalanceInProgress, []) }
            case .stable:
                group.members[memberID] = member
                completions.append { answer(.none, member.assignment) }
            case .completingRebalance:
                member.pendingSync = answer
                group.members[memberID] = member
                if memberID == group.leader {
                    for id in Array(group.members.keys) {
                        group.members[id]?.assignment = assignments[id] ?? []
                    }
                    group.phase = .stable
                    for (id, other) in group.members {
                        if let pending = other.pendingSync {
                            let assignment = other.assignment
                            completions.append { pending(.none, assignment) }
                            group.members[id]?.pendingSync = nil
                        }
                    }
                    publish(name, group)
                }
            }
        }
        for completion in completions { completion() }
    }

    func heartbeat(group name: String, generation: Int32, memberID: String) -> KafkaError {
        groups.withLock { groups in
            guard var group = groups[name], group.members[memberID] != nil else { return .unknownMemberID }
            group.members[memberID]?.lastSeen = Time.monotonicNanos()
            groups[name] = group
            if group.phase == .preparingRebalance { return .rebalanceInProgress }
            guard generation == group.generation else { return .illegalGeneration }
            return .none
        }
    }

    func leave(group name: String, memberIDs: [String]) -> [KafkaError] {
        var completions: [() -> Void] = []
        let results: [KafkaError] = groups.withLock { groups in
            guard var group = groups[name] else { return memberIDs.map { _ in .unknownMemberID } }
            defer { groups[name] = group }
            var results: [KafkaError] = []
            var left = false
            for id in memberIDs {
                guard let member = group.members.removeValue(forKey: id) else {
                    results.append(.unknownMemberID)
                    continue
                }
                if let join = member.pendingJoin { completions.append { join(JoinAnswer(error: .unknownMemberID)) } }
                if let sync = member.pendingSync { completions.append { sync(.unknownMemberID, []) } }
                results.append(.none)
                left = true
            }
            if left {
                removedMembers(&group, name: name, reason: "a member left", completions: &completions)
            }
            return results
        }
        for completion in completions { completion() }
        return results
    }

    /// After members went away: a new round for those left, or an empty group.
    private func removedMembers(
        _ group: inout Group, name: String, reason: String, completions: inout [() -> Void]
    ) {
        let now = Time.monotonicNanos()
        if group.members.isEmpty {
            group.phase = .empty
            group.generation += 1
            group.leader = nil
            publish(name, group)
        } else {
            if group.phase != .preparingRebalance {
                startRebalance(&group, name: name, now: now, reason: reason, completions: &completions)
            }
            completeJoinIfReady(&group, name: name, now: now, completions: &completions)
            publish(name, group)
        }
    }

    /// Evicts members whose session ran out and ends rebalances whose time is up.
    private func tick() {
        let now = Time.monotonicNanos()
        var completions: [() -> Void] = []
        groups.withLock { groups in
            for name in Array(groups.keys) {
                guard var group = groups[name] else { continue }
                var evicted: [String] = []
                for (id, member) in group.members where member.pendingJoin == nil {
                    if now > member.lastSeen + UInt64(member.sessionTimeoutMillis) * 1_000_000 { evicted.append(id) }
                }
                group.pending = group.pending.filter { now < $0.value + 300_000_000_000 }
                for id in evicted {
                    if let sync = group.members[id]?.pendingSync { completions.append { sync(.unknownMemberID, []) } }
                    group.members[id] = nil
                    logger.warning(
                        "evicted a Kafka client that missed its session timeout",
                        metadata: ["group": "\(name)", "member": "\(id)"])
                }
                if !evicted.isEmpty {
                    removedMembers(&group, name: name, reason: "a session timed out", completions: &completions)
                } else {
                    completeJoinIfReady(&group, name: name, now: now, completions: &completions)
                }
                groups[name] = group
            }
        }
        for completion in completions { completion() }
    }

    // MARK: Commits

    /// Whether a commit from `memberID` at `generation` may go on: a simple consumer or an admin tool
    /// (no member id, generation -1) commits into a group without members only, as in Kafka (while the
    /// group has members, their commits would overwrite it anyway); a member of the current generation,
    /// but not while the leader's assignment is awaited.
    func checkCommit(group name: String, generation: Int32, memberID: String) -> KafkaError {
        groups.withLock { groups in
            guard let group = groups[name], !group.members.isEmpty else {
                return generation < 0 || memberID.isEmpty ? .none : .unknownMemberID
            }
            guard group.members[memberID] != nil else { return .unknownMemberID }
            guard generation == group.generation else { return .illegalGeneration }
            // As in Kafka: members commit what they processed before they rejoin (PreparingRebalance);
            // between the joins and the leader's assignment there is nothing they may own.
            if group.phase == .completingRebalance { return .rebalanceInProgress }
            return .none
        }
    }

    // MARK: Describing

    struct Description {
        var name: String
        var phase: Phase
        var protocolType: String
        var protocolName: String
        var members: [Member]
    }

    func describe(_ name: String) -> Description? {
        groups.withLock { groups in
            guard let group = groups[name] else { return nil }
            return Description(
                name: name, phase: group.phase, protocolType: group.protocolType ?? "",
                protocolName: group.phase == .stable ? group.protocolName ?? "" : "",
                members: group.members.values.sorted { $0.id < $1.id })
        }
    }

    var names: [String] { groups.withLock { Array($0.keys) } }

    /// Tells the broker who is in the group and what each owns (read from the consumer protocol's
    /// assignments), for `sluice groups describe`.
    private func publish(_ name: String, _ group: Group) {
        var owners: [TopicPartition: String] = [:]
        if group.phase == .stable {
            for (id, member) in group.members {
                for tp in Self.assignedPartitions(member.assignment) { owners[tp] = id }
            }
        }
        let members = group.members.isEmpty ? nil : group.members.keys.sorted()
        let generation = group.generation
        brokers.withBroker { broker in
            broker.publishExternalGroup(name, generation: generation, members: members, owners: owners)
        }
    }

    /// The partitions of a consumer protocol assignment (version, [topic, [partition]], user data).
    static func assignedPartitions(_ assignment: [UInt8]) -> [TopicPartition] {
        var reader = WireReader(assignment)
        var result: [TopicPartition] = []
        do {
            _ = try reader.int16()
            let topics = try reader.arrayCount() ?? 0
            for _ in 0..<topics {
                let topic = try reader.string()
                for partition in try reader.array(
                    minimumItemSize: 4, { (r: inout WireReader) throws(WireError) in try r.int32() })
                {
                    result.append(TopicPartition(topic, partition))
                }
            }
        } catch {
            return result
        }
        return result
    }
}
